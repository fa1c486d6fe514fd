"""The shared person detector (engines/vision/faces.py): MTCNN, the optional Haar cascades, merging."""

from __future__ import annotations

from engines.vision.boxes import iou
from engines.vision.faces import FaceDetectorConfig, PersonDetector, _merge, rank_people
from tests.visual_testing import ASTRONAUT_FACE, astronaut, coffee


def test_haar_face_cascade_finds_the_astronaut_without_mtcnn() -> None:
    detector = PersonDetector(FaceDetectorConfig(mtcnn=False, haar_faces="always"))
    [person] = detector.detect_pil(astronaut())
    assert person.source == "haar_face"
    assert person.score == 0.6  # Haar has no calibrated confidence: the configured fixed score
    assert person.face is not None and iou(person.face, ASTRONAUT_FACE) > 0.6


def test_cascades_add_nothing_already_found_and_nothing_on_coffee() -> None:
    detector = PersonDetector(FaceDetectorConfig(haar_faces="always", haar_bodies="always"))
    [person] = detector.detect_pil(astronaut())  # the Haar face of the same person is dropped
    assert person.source == "mtcnn"
    assert detector.detect_pil(coffee()) == []


def test_bodies_merge_with_the_face_they_contain() -> None:
    faces = [((100.0, 100.0, 140.0, 150.0), 0.99, "mtcnn"), ((400.0, 50.0, 420.0, 75.0), 0.98, "mtcnn")]
    bodies = [
        (60.0, 90.0, 200.0, 500.0),  # around the first face, face in its upper half: merged
        (380.0, 0.0, 400.0, 40.0),  # too narrow for the second face: not merged
        (600.0, 100.0, 700.0, 400.0),  # nobody's face: a body-only person
    ]
    people = rank_people(_merge(faces, bodies, 0.55))
    assert [p.source for p in people] == ["mtcnn+haar_body", "mtcnn", "haar_body", "haar_body"]
    assert people[0].body == bodies[0]
    assert people[2].face is None and people[2].score == 0.55
