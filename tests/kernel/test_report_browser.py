"""The pictures of a running lab, end to end: a test using `vpc_lab` probes a flow an SG blocks, runs a
matrix and an AZ-outage drill with `--svg`, writes `vpcemu report`, and fails; the pytest plugin, run with
`--vpc-report DIR`, leaves the lab's report in DIR. That page is opened in headless Chromium (one launch):
it loads with no console error and no network request, its diagram names every subnet and instance, the
blocked probe's dropping component is drawn red; a screenshot is kept under tests/artifacts/."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from vpcemu.load import load_topology

ROOT = Path(__file__).parents[2]
DEFAULT = ROOT / "topologies" / "default.yaml"
ARTIFACTS = ROOT / "tests" / "artifacts"
RED = "#d62728"

INNER = '''
import subprocess
import sys
import time
from pathlib import Path

import pytest

OUT = Path({out!r})
VPCEMU = str(Path(sys.executable).parent / "vpcemu")


def vpcemu(*argv):
    return subprocess.run([VPCEMU, *argv], capture_output=True, text=True, timeout=120)


@pytest.mark.vpc_topology({topology!r}, name="pictures")
def test_fails_after_drawing(vpc_lab):
    r = vpcemu("probe", "app-a", "web-1", "-p", "tcp", "--port", "22", "--svg", str(OUT / "probe.svg"),
               "--lab", "pictures")
    assert r.returncode == 1, r.stdout + r.stderr
    r = vpcemu("matrix", "pictures", "--port", "tcp/22", "--port", "icmp", "--timeout", "0.5", "--svg", str(OUT / "matrix.svg"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = vpcemu("drill", "az-outage", "--az", "us-east-1b", "--client", "app-a", "--target", "app-b",
               "--hold-ms", "100", "--interval-ms", "2", "--svg", str(OUT / "drill.svg"), "--lab", "pictures")
    assert r.returncode == 0, r.stdout + r.stderr
    started = time.monotonic()
    r = vpcemu("report", "pictures", "-o", str(OUT / "cli-report.html"))
    assert r.returncode == 0, r.stdout + r.stderr
    (OUT / "report-seconds").write_text(f"{{time.monotonic() - started:.2f}}")
    assert False, "fails on purpose: the plugin writes the lab's report"
'''


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """The inner test run once: its output, the report the plugin wrote and the pictures the CLI drew."""
    work = tmp_path_factory.mktemp("inner")
    out = work / "pictures"
    out.mkdir()
    (work / "test_inner.py").write_text(INNER.format(out=str(out), topology=str(DEFAULT)))
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(work),
                        "--vpc-report", str(work / "reports"), str(work / "test_inner.py")],
                       cwd=work, capture_output=True, text=True, timeout=600)
    print(f"inner test run (lab up, probe, matrix, drill, CLI report, plugin report, down): "
          f"{time.monotonic() - started:.1f} s; `vpcemu report`: {(out / 'report-seconds').read_text()} s")
    return r, work


def test_the_plugin_writes_the_report_of_a_failed_test(failed_run):
    r, work = failed_run
    assert r.returncode == 1 and "1 failed" in r.stdout, r.stdout + r.stderr
    assert "fails on purpose" in r.stdout, r.stdout          # the inner checks before it held
    report = work / "reports" / "test_inner.py_test_fails_after_drawing.html"
    assert f"vpcemu report of lab pictures for test_inner.py::test_fails_after_drawing: {report}" in r.stdout
    assert report.is_file() and (work / "pictures" / "cli-report.html").is_file()


def test_the_cli_pictures(failed_run):
    _, work = failed_run
    probe = ElementTree.parse(work / "pictures" / "probe.svg").getroot()
    dropped = [g for g in probe.iter("{http://www.w3.org/2000/svg}g") if "vpcemu-dropped" in g.get("class", "")]
    assert len(dropped) == 1
    assert any(p.get("fill") == RED for p in dropped[0].iter() if p.get("fill"))
    assert "ENI_SG_RULES_MISMATCH" in "".join(dropped[0].itertext())
    drill = (work / "pictures" / "drill.svg").read_text()
    assert "az-outage" in drill and "outage" in drill and "first lost" in drill
    ElementTree.fromstring(drill)
    matrix = (work / "pictures" / "matrix.svg").read_text()
    assert "pictures: tcp/22" in matrix and "pictures: icmp" in matrix


def test_the_report_in_headless_chromium(failed_run, capsys):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    _, work = failed_run
    report = work / "reports" / "test_inner.py_test_fails_after_drawing.html"
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1200"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    started = time.monotonic()
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get(report.as_uri())
        assert driver.title == "vpcemu lab pictures"
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        urls = {m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"}
        assert urls == {report.as_uri()}, urls           # the page itself, nothing else
        texts = set(driver.execute_script(
            "return Array.from(document.querySelectorAll('#topology svg text')).map(t => t.textContent)"))
        topology = load_topology(DEFAULT)
        for vpc in topology.vpcs.values():
            missing = (set(vpc.subnets) | set(vpc.instances)) - texts
            assert not missing, missing
        red = driver.execute_script("""
            return Array.from(document.querySelectorAll('.probe-path g.vpcemu-dropped')).map(g => {
                const r = g.getBoundingClientRect();
                const fills = Array.from(g.querySelectorAll('path, polygon')).map(p => p.getAttribute('fill'));
                return {text: g.textContent, fills: fills, width: r.width, height: r.height};
            })""")
        blocked = [g for g in red if "web-1" in g["text"] and "ENI_SG_RULES_MISMATCH" in g["text"]]
        assert blocked and RED in blocked[0]["fills"] and blocked[0]["width"] > 0 and blocked[0]["height"] > 0, red
        # the history: the one probe and the one drill the test ran; verify's and the matrices' probes are
        # in their own sections, not listed as probes
        probes = driver.execute_script(
            "return Array.from(document.querySelectorAll('#probes + table tbody tr')).map(r => r.cells[0].textContent)")
        assert probes == ["app-a → web-1 tcp/22"], probes
        drills = driver.execute_script("""
            const out = [];
            for (let e = document.getElementById('drills').nextElementSibling; e.id !== 'status'; e = e.nextElementSibling)
                if (e.tagName === 'H3') out.push(e.textContent);
            return out""")
        assert [d for d in drills if d.startswith("az-outage: app-a → ")] and len(drills) == 1, drills
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1600, min(height + 200, 30000))
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report-default.png"
        assert driver.save_screenshot(str(shot))
        with capsys.disabled():         # the artifact's path shows in every run, not only with -s
            print(f"\nscreenshot of the report: {shot}; report: {report}; browser {time.monotonic() - started:.1f} s")
    finally:
        driver.quit()
