"""The embedded `faces` VG backend on real photographs: boxes, the assignment rule, bad input."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from engines.vision.boxes import intersection, iou
from engines.vision.faces import Person, PersonBoxRule
from services.vg.app import create_app
from services.vg.backends.faces import assign_people
from services.vg.settings import VGSettings
from shared.protocol.visual import MAX_ITEMS_PER_CALL, VisualExpression
from tests.visual_testing import ASTRONAUT_FACE, ASTRONAUT_PERSON, b64, expr, png_bytes, two_people


def ground(client: TestClient, image_b64: str, expressions: list[dict[str, str]]) -> list[dict]:
    response = client.post("/v1/ground", json={"image_b64": image_b64, "expressions": expressions})
    assert response.status_code == 200, response.text
    assert response.json()["backend"] == "faces"
    return response.json()["results"]


def test_astronaut_box_covers_the_person(faces_client: TestClient, astronaut_b64: str) -> None:
    [result] = ground(faces_client, astronaut_b64, [expr("Eileen Collins", "PER", "an American astronaut")])
    box = tuple(result["box"])
    assert result["score"] >= 0.9
    assert 0 <= box[0] < box[2] <= 512 and 0 <= box[1] < box[3] <= 512
    # The whole face is inside the box, and the box matches the person the way GMNER scores it (IoU >= 0.5).
    assert intersection(box, ASTRONAUT_FACE) == pytest.approx((268 - 181) * (172 - 62), rel=0.05)
    assert iou(box, ASTRONAUT_PERSON) >= 0.5


def test_no_person_gives_no_box(faces_client: TestClient, coffee_b64: str) -> None:
    results = ground(faces_client, coffee_b64, [expr("Eileen Collins"), expr("Starbucks", "ORG", "a coffee chain")])
    assert results == [{"box": None, "score": 0.0}, {"box": None, "score": 0.0}]


def test_non_per_gets_no_box_and_order_is_kept(faces_client: TestClient, astronaut_b64: str) -> None:
    results = ground(
        faces_client,
        astronaut_b64,
        [expr("NASA", "ORG", "an agency"), expr("Eileen Collins"), expr("Houston", "LOC", "a city")],
    )
    assert results[0] == {"box": None, "score": 0.0}
    assert results[1]["box"] is not None
    assert results[2] == {"box": None, "score": 0.0}


def test_two_faces_go_to_two_people_largest_first(faces_client: TestClient) -> None:
    image = b64(png_bytes(two_people()))
    results = ground(faces_client, image, [expr("Eileen Collins"), expr("Her Twin"), expr("eileen  COLLINS")])
    big, small, again = (tuple(r["box"]) for r in results)
    assert big[2] < 430  # the full-size astronaut on the left (face at x 181-268)
    assert small[0] > 530  # the half-size one pasted at x 530
    assert (big[2] - big[0]) > (small[2] - small[0])
    assert again == big  # the same name (any case, spacing) gets the same person


def test_more_people_named_than_found(astronaut_b64: str) -> None:
    expressions = [expr("Eileen Collins"), expr("Someone Else")]
    with TestClient(create_app(VGSettings(backend="faces", log_json=False))) as client:
        largest = ground(client, astronaut_b64, expressions)
    assert largest[1] == largest[0]
    with TestClient(
        create_app(VGSettings(backend="faces", log_json=False, faces_extra_per="none", faces_non_per="image"))
    ) as client:
        results = ground(client, astronaut_b64, [*expressions, expr("Houston", "LOC", "a city")])
    assert results[0] == largest[0]
    assert results[1] == {"box": None, "score": 0.0}
    assert results[2] == {"box": [0.0, 0.0, 512.0, 512.0], "score": 0.0}


def test_person_box_rule() -> None:
    rule = PersonBoxRule()  # 3.5 face widths wide, 0.5 face heights above, 5 below the chin
    person = Person(score=0.99, face=(100.0, 100.0, 140.0, 150.0), body=None, source="mtcnn")
    assert person.person_box(1000, 1000, rule) == (50.0, 75.0, 190.0, 400.0)
    assert person.person_box(160, 300, rule) == (50.0, 75.0, 160.0, 300.0)  # clipped to the image
    with_body = Person(score=0.99, face=(100.0, 100.0, 140.0, 150.0), body=(60.0, 110.0, 200.0, 500.0), source="x")
    assert with_body.person_box(1000, 1000, rule) == (60.0, 100.0, 200.0, 500.0)  # body, raised to the head


def test_assignment_rule() -> None:
    people = [Person(0.9, (0.0, 0.0, 10.0, 10.0), None, "mtcnn"), Person(0.99, (0.0, 0.0, 5.0, 5.0), None, "mtcnn")]
    expressions = [
        VisualExpression(**expr("Paris", "LOC")),
        VisualExpression(**expr("A")),
        VisualExpression(**expr("B")),
        VisualExpression(**expr("C")),
        VisualExpression(**expr("a")),
    ]
    assert assign_people(people, expressions, "largest") == [None, people[0], people[1], people[0], people[0]]
    assert assign_people(people, expressions, "none") == [None, people[0], people[1], None, people[0]]
    assert assign_people([], expressions, "largest") == [None] * 5


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"expressions": []}, 422, "invalid_request"),
        ({"expressions": [expr(f"P{i}") for i in range(MAX_ITEMS_PER_CALL + 1)]}, 422, "invalid_request"),
        ({"expressions": [expr("\t")]}, 422, "invalid_request"),
        ({"image_b64": base64.b64encode(b"GIF89a not really").decode()}, 415, "not_an_image"),
        ({"image_b64": ""}, 422, "invalid_request"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    faces_client: TestClient, astronaut_b64: str, payload: dict, status: int, code: str
) -> None:
    body = {"image_b64": astronaut_b64, "expressions": [expr("Eileen Collins")], **payload}
    response = faces_client.post("/v1/ground", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["stage"] == "vg"
