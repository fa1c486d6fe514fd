"""The web page in a real browser (Debian's headless Chromium driven by Playwright) against the embedded stack.

Needs `apt-get install -y chromium` and the `playwright` Python package; the browser is Debian's
(/usr/bin/chromium), never one downloaded by Playwright. Screenshots go to a temp dir, and also to
$GMNER_SCREENSHOT_OUT when it is set (the README's docs/screenshot.png is made that way).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from gateway.overlay import MASK_ALPHA, entity_colour
from gmner.embedded.stack import EmbeddedStack
from tests.integration.conftest import visual

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("GMNER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
POST = "Astronaut Eileen Collins waves before the launch"
# The first request loads the NER models and asks the LLM for knowledge: minutes on a slow CI machine.
RESULT_TIMEOUT_MS = 300_000


def need_browser() -> Any:
    """Playwright's sync API, or a skip where the browser is not installed (never in CI, where it must be)."""
    if shutil.which(CHROMIUM) is None or importlib.util.find_spec("playwright") is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {CHROMIUM} (apt-get install -y chromium) and the playwright package")
        pytest.skip(f"no {CHROMIUM} or no playwright package")
    from playwright.sync_api import sync_playwright

    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = need_browser()  # skips (locally) before the shared stack is started
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, stack: EmbeddedStack) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.gateway_url}/")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("images") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def screenshot(page: Any, shots: Path, name: str) -> Path:
    path = shots / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def submit(page: Any, text: str, image: Path | None, task: str = "smner") -> None:
    page.fill("#text", text)
    if image is not None:
        page.set_input_files("#image", str(image))
    page.check(f'input[name="tasks"][value="{task}"]')
    page.click("#submit")


def canvas_pixels(page: Any) -> np.ndarray:
    """The canvas as an (h, w, 4) array, read in the page."""
    width, height, data = page.evaluate(
        """() => {
            const c = document.getElementById("overlay");
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            return [c.width, c.height, Array.from(d)];
        }"""
    )
    return np.array(data, dtype=np.uint8).reshape(height, width, 4)


def table_rows(page: Any) -> list[dict[str, str]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll("#entities tbody tr[data-index]")).map(tr => ({
            entity: tr.querySelector(".entity").textContent,
            type: tr.querySelector(".type").textContent,
            groundable: tr.querySelector(".groundable").textContent,
            degraded: tr.querySelector(".degraded").textContent,
        }))"""
    )


def test_page_shows_the_grounded_person(page: Any, stack: EmbeddedStack, astronaut: Path, shots: Path) -> None:
    submit(page, POST, astronaut)
    assert page.is_visible("#preview")
    page.wait_for_selector("#overlay[data-state=ready]", timeout=RESULT_TIMEOUT_MS)
    assert page.is_hidden("#error")

    rows = table_rows(page)
    people = [i for i, row in enumerate(rows) if row["type"] == "PER" and "Collins" in row["entity"]]
    assert people, f"no PER entity for Eileen Collins in {rows}"
    index = people[0]

    pixels = canvas_pixels(page)
    original = np.asarray(Image.open(astronaut).convert("RGB")).astype(int)
    assert pixels.shape[:2] == original.shape[:2]  # drawn at the image's own resolution
    assert pixels[..., 3].min() == 255  # the whole image is painted
    answer = page.evaluate("() => window.gmnerLastAnswer")
    entity = answer["entities"][index]

    if visual(stack.settings.stages):
        assert rows[index]["groundable"].startswith("yes"), rows[index]
        assert int(page.get_attribute("#overlay", "data-drawn") or 0) >= 1
        # The box outline is in the entity's colour, half-way down its left edge.
        x1, y1, x2, y2 = entity["box"]
        edge = pixels[int((y1 + y2) / 2), int(x1), :3].astype(int)
        assert np.abs(edge - np.array(entity_colour(index))).max() <= 8, edge
        # Inside the mask (away from the box's lines and label), the image is blended with the entity's colour:
        # the page decoded the RLE right.
        mask = mask_utils.decode({"size": entity["mask"]["size"], "counts": entity["mask"]["counts"].encode()})
        inner = np.zeros_like(mask)
        inner[int(y1) + 40 : int(y2) - 10, int(x1) + 10 : int(x2) - 10] = 1
        ys, xs = np.nonzero(mask & inner)
        assert len(ys), "the mask is empty inside its box"
        y, x = ys[len(ys) // 2], xs[len(ys) // 2]
        expected = original[y, x] * (1 - MASK_ALPHA / 255) + np.array(entity_colour(index)) * MASK_ALPHA / 255
        assert np.abs(pixels[y, x, :3].astype(int) - expected).max() <= 8
        # Hovering the row highlights it and draws its mask stronger.
        page.hover(f'#entities tbody tr[data-index="{index}"]')
        assert "highlighted" in (page.get_attribute(f'#entities tbody tr[data-index="{index}"]', "class") or "")
        stronger = canvas_pixels(page)[y, x, :3].astype(int)
        assert np.abs(stronger - np.array(entity_colour(index))).sum() < np.abs(expected - entity_colour(index)).sum()
        page.mouse.move(0, 0)
    else:
        # Text stages only: the image is drawn unchanged and the reason is in the table.
        assert np.abs(pixels[256, 256, :3].astype(int) - original[256, 256]).max() <= 2
        assert "not deployed" in rows[index]["groundable"]

    path = screenshot(page, shots, "gmner-page.png")
    target = os.environ.get("GMNER_SCREENSHOT_OUT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def test_a_non_image_file_shows_the_error_and_the_page_stays_usable(
    page: Any, astronaut: Path, tmp_path: Path, shots: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a picture\n")
    submit(page, POST, notes)
    page.wait_for_selector("#error:not([hidden])", timeout=RESULT_TIMEOUT_MS)
    message = page.inner_text("#error")
    assert "not an image" in message
    assert "not_an_image" in message  # the API's code, for a bug report
    assert page.is_enabled("#submit")
    assert page.is_hidden("#result")
    screenshot(page, shots, "gmner-page-error.png")

    # The same page, a real image, text-only task: the error goes away and the answer comes.
    submit(page, POST, astronaut, task="mner")
    page.wait_for_selector("#overlay[data-state=ready]", timeout=RESULT_TIMEOUT_MS)
    assert page.is_hidden("#error")
    assert any(row["type"] == "PER" for row in table_rows(page))


@pytest.mark.parametrize(
    ("status", "headers", "error", "expected"),
    [
        (429, {"Retry-After": "3"}, {"code": "too_many_requests", "message": "busy", "stage": "gateway"},
         "The service is busy (too many requests at once). Try again in 3 seconds."),
        (503, {"Retry-After": "1"}, {"code": "stage_unavailable", "message": "The NER stage failed", "stage": "ner"},
         "Part of the service is unavailable (ner): The NER stage failed. Try again in 1 second."),
        (413, {}, {"code": "image_too_large", "message": "The image is 99 bytes; the limit is 9.", "stage": None},
         "That is too large: The image is 99 bytes; the limit is 9."),
    ],
)  # fmt: skip
def test_busy_and_unavailable_answers_are_put_in_words(
    page: Any, status: int, headers: dict[str, str], error: dict[str, Any], expected: str
) -> None:
    # The browser's own network layer answers for the gateway: a real 429/503 needs a loaded or broken stack.
    page.route(
        "**/v1/gmner",
        lambda route: route.fulfill(status=status, headers=headers, json={"error": error}),
    )
    submit(page, POST, None, task="mner")
    page.wait_for_selector("#error:not([hidden])")
    assert expected in page.inner_text("#error")
    assert page.is_enabled("#submit")


def test_an_unreachable_service_is_put_in_words(page: Any) -> None:
    page.route("**/v1/gmner", lambda route: route.abort("connectionrefused"))
    submit(page, POST, None, task="mner")
    page.wait_for_selector("#error:not([hidden])")
    assert "Could not reach the service" in page.inner_text("#error")


def test_an_image_dropped_on_the_page_is_previewed(page: Any) -> None:
    import base64

    from tests.conftest import image_bytes

    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
            const zone = document.getElementById("drop-zone");
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }""",
        base64.b64encode(image_bytes()).decode(),
    )
    page.wait_for_function("() => document.getElementById('preview').naturalWidth === 64")
    assert page.is_visible("#preview")
    assert "dropped.png" in page.inner_text("#file-name")
    page.click("#clear-image")
    assert page.is_hidden("#preview-box")


def test_empty_text_is_caught_in_the_page(page: Any) -> None:
    page.click("#submit")
    assert "Type the post's text first." in page.inner_text("#error")


def test_rle_decoder_in_the_page_matches_pycocotools(page: Any) -> None:
    rng = np.random.default_rng(0)
    masks = [
        np.zeros((7, 5), dtype=np.uint8),
        np.ones((7, 5), dtype=np.uint8),
        (rng.random((37, 53)) > 0.5).astype(np.uint8),
        np.pad(np.ones((300, 200), dtype=np.uint8), ((500, 224), (600, 224))),  # long runs: many 5-bit groups
    ]
    circle = np.zeros((120, 90), dtype=np.uint8)
    yy, xx = np.mgrid[:120, :90]
    circle[(yy - 60) ** 2 + (xx - 40) ** 2 < 30**2] = 1
    masks.append(circle)
    for mask in masks:
        rle = mask_utils.encode(np.asfortranarray(mask))
        decoded = page.evaluate(
            "(rle) => Array.from(window.GMNERRle.decodeMask(rle))",
            {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")},
        )
        assert np.array_equal(np.array(decoded, dtype=np.uint8).reshape(mask.shape), mask)
