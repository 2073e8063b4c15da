"""Regenerate the screenshots in docs/ (the README shows them): the editor on the seed 001
config previewing the demo session, and the labelled plot of the demo on the modular seed.

    .venv/bin/python docs/make_screenshots.py      (needs chromium and chromium-driver)
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from host_tools import editor  # noqa: E402

DEMO = ["--in", "in1=examples/demo/keystep.txt", "--in", "in2=examples/demo/digitakt.txt"]


def editor_shot(path):
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        shutil.copy(ROOT / "examples" / "configs" / "a4-rytm-two-synths.json", config)
        server, url = editor.serve(str(config))
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1400,1100",
                     "--user-data-dir=%s" % (Path(tmp) / "profile")):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
            driver.find_element(By.CSS_SELECTOR, 'button[data-preset="1"]').click()
            driver.find_element(By.ID, "play").click()
            WebDriverWait(driver, 60).until(lambda d: "played by" in d.find_element(By.ID, "preview-status").text)
            time.sleep(0.5)
            driver.save_screenshot(str(path))
        finally:
            driver.quit()
            server.shutdown()


def plot_shot(path):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "host_tools", "sim", "--no-plot", "--config",
                        "examples/configs/modular-keystep.json", *DEMO, "--out", tmp], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "host_tools", "plot", tmp, *DEMO, "--end", "2500", "--out", str(path)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    editor_shot(ROOT / "docs" / "editor.png")
    plot_shot(ROOT / "docs" / "plot.png")
    print("wrote docs/editor.png and docs/plot.png")
