"""The editor in a real headless browser: Debian's chromium driven by chromium-driver through
selenium. It loads the seed 001 config, shows the routing matrix, flags a bad value beside its
field, previews the setup through the firmware on MicroPython in the page (a note on channel 5
leaves the JU-06A's output only), saves, and the saved file passes validate and is the text
the page showed."""

import json
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("chromium not installed: apt-get install chromium chromium-driver", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from host_tools import editor, validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "configs" / "a4-rytm-two-synths.json"
WAIT_S = 60
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1500,1300")


@pytest.fixture
def page(tmp_path):
    yield from _open_page(tmp_path, SEED)


@pytest.fixture
def split_page(tmp_path):
    yield from _open_page(tmp_path, ROOT / "examples" / "configs" / "split-one-synth.json")


def _open_page(tmp_path, source):
    config = tmp_path / "config.json"
    shutil.copy(source, config)
    server, url = editor.serve(str(config))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + ("--user-data-dir=%s" % (tmp_path / "profile"),):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    try:
        driver.get(url)
        WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
        yield driver, config
    finally:
        driver.quit()
        server.shutdown()


def status_is(driver, text):
    return WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.ID, "status").text.startswith(text))


def field(driver, path):
    return driver.find_element(By.CSS_SELECTOR, 'label[data-path="%s"]' % path)


def play_phrase(driver, phrase, port):
    """The preview plays the timed-text file ``phrase`` into ``port``; returns once it has."""
    Select(driver.find_element(By.ID, "phrase-source")).select_by_value("file")
    Select(driver.find_element(By.ID, "phrase-port")).select_by_value(port)
    driver.find_element(By.ID, "phrase-file").send_keys(str(phrase))
    WebDriverWait(driver, WAIT_S).until(lambda d: "ready" in d.find_element(By.ID, "preview-status").text)
    driver.find_element(By.ID, "play").click()
    WebDriverWait(driver, WAIT_S).until(lambda d: "played by" in d.find_element(By.ID, "preview-status").text)


def test_edit_check_preview_and_save_the_seed_001_setup(page, tmp_path):
    driver, config = page
    status_is(driver, "valid")
    # The matrix: route 2 joins the KeyStep (in1) to the JU-06A (out3) on channel 5 only.
    crossing = driver.find_element(By.CSS_SELECTOR, 'td[data-from="in1"][data-to="out3"]')
    assert crossing.text.startswith("2: notes, CC, bend, AT, PC ch 5")
    assert driver.find_element(By.CSS_SELECTOR, 'td[data-from="in3"][data-to="out3"]').text == ""

    # A bad value is flagged beside its field, in the firmware's words, and the file is refused.
    transpose = field(driver, "presets[0].routes[1].transpose")
    transpose.find_element(By.TAG_NAME, "input").send_keys("99")
    status_is(driver, "1 problem")
    beside = transpose.find_element(By.CLASS_NAME, "err")
    assert "99" in beside.text and "-48" in beside.text, beside.text
    transpose.find_element(By.TAG_NAME, "input").send_keys(Keys.BACKSPACE, Keys.BACKSPACE)
    status_is(driver, "valid")
    assert beside.text == ""

    # Preview: a note on channel 5 played into in1 leaves the JU-06A's output (out3) only.
    phrase = tmp_path / "note-ch5.txt"
    phrase.write_text("# KeyStep on channel 5\n10 94 40 64\n300 84 40 00\n")
    play_phrase(driver, phrase, "in1")
    assert "MicroPython in this page" in driver.find_element(By.ID, "preview-status").text
    outputs = {port: driver.find_element(By.ID, "out-" + port).text for port in ("out1", "out2", "out3", "out4", "usb")}
    assert "ch5 Note On E4 vel 100" in outputs["out3"] and "ch5 Note Off E4" in outputs["out3"], outputs
    for port in ("out1", "out2", "out4", "usb"):
        assert "Note" not in outputs[port] and outputs[port].endswith("0 messages"), outputs

    # Save: an edit through the form, then the file on disk is the text the page shows.
    name = field(driver, "presets[0].name").find_element(By.TAG_NAME, "input")
    name.send_keys(" (live)")
    status_is(driver, "valid")
    driver.find_element(By.ID, "save").click()
    status_is(driver, "saved")
    shown = driver.execute_script("return document.getElementById('json').value")
    saved = config.read_text()
    assert saved == shown
    assert json.loads(saved)["presets"][0]["name"] == "KeyStep on its channel (live)"
    assert validate.check_bytes(saved.encode()).errors == []


def test_a_voice_note_range_is_edited_and_checked_beside_its_field(page):
    driver, config = page
    status_is(driver, "valid")
    notes = field(driver, "presets[0].cv.voices[0].notes")
    low, high = notes.find_elements(By.TAG_NAME, "input")
    low.send_keys("72")
    high.send_keys("60")
    status_is(driver, "1 problem")
    beside = notes.find_element(By.CLASS_NAME, "err")
    assert "the low note 72 is above the high note 60" in beside.text, beside.text
    high.send_keys(Keys.BACKSPACE, Keys.BACKSPACE, "96")
    status_is(driver, "valid")
    shown = json.loads(driver.execute_script("return document.getElementById('json').value"))
    assert shown["presets"][0]["cv"]["voices"][0]["notes"] == [72, 96]


def test_a_split_onto_one_output_shows_both_routes_previews_both_parts_and_saves_unchanged(split_page, tmp_path):
    driver, config = split_page
    status_is(driver, "valid")
    # Both routes of the split sit on the KeyStep Pro (in1) -> Synth (out1) crossing.
    crossing = driver.find_element(By.CSS_SELECTOR, 'td[data-from="in1"][data-to="out1"]')
    badges = [b.text for b in crossing.find_elements(By.CLASS_NAME, "badge")]
    assert [b.split(":")[0] for b in badges] == ["1", "2"] and "notes 0-47" in badges[0] and "notes 48-127" in badges[1]
    # The preview plays a low and a high key: bass on channel 1, chords on channel 2, one output.
    phrase = tmp_path / "split.txt"
    phrase.write_text("10 90 28 64\n20 90 40 5A\n300 80 28 00\n310 80 40 00\n")
    play_phrase(driver, phrase, "in1")
    out1 = driver.find_element(By.ID, "out-out1").text
    for words in ("ch1 Note On E2 vel 100", "ch2 Note On E4 vel 90", "ch1 Note Off E2", "ch2 Note Off E4"):
        assert words in out1, out1
    # Saved as it came: the page round-trips the file.
    driver.find_element(By.ID, "save").click()
    status_is(driver, "saved")
    saved = config.read_text()
    assert json.loads(saved) == json.loads((ROOT / "examples" / "configs" / "split-one-synth.json").read_text())
    assert validate.check_bytes(saved.encode()).errors == []
