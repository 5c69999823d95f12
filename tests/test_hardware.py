"""hardware/<board>: each asound.conf parses in real alsa-lib and defines the two PCMs the
config uses; each pins.yaml is a valid gpio: section; the udev rules name the groups the unit
uses. (Opening the PCMs needs the board's sound card, which this machine does not have.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appliance import config

HARDWARE = Path(__file__).resolve().parent.parent / "hardware"
PROFILES = sorted(p.name for p in HARDWARE.iterdir() if (p / "asound.conf").exists())

LIST_PCMS = "import alsaaudio, json; print(json.dumps(alsaaudio.pcms(alsaaudio.PCM_CAPTURE)))"


def test_there_are_profiles() -> None:
    assert {"respeaker-2mic", "usb-mic-i2s-amp", "usb-speakerphone"} <= set(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_asound_conf_defines_the_appliance_pcms(profile: str) -> None:
    conf = HARDWARE / profile / "asound.conf"
    env = {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", LIST_PCMS], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    pcms = set(yaml.safe_load(out.stdout))
    assert {"appliance_capture", "appliance_playback"} <= pcms, pcms
    for needed in ("NOTES.md", "pins.yaml"):
        assert (HARDWARE / profile / needed).exists()


@pytest.mark.parametrize("profile", PROFILES)
def test_dsnoop_and_dmix_ipc_keys_do_not_overlap(profile: str) -> None:
    """A direct plugin uses SysV IPC at its ipc_key and the key after it. With adjacent keys the
    microphone's dsnoop and the speaker's dmix clash, and opening the speaker after the
    microphone fails ("unable to initialize sum ring buffer"): seen on the arm64 image booted in
    QEMU with the USB speakerphone profile."""
    keys = [int(k) for k in re.findall(r"^\s*ipc_key\s+(\d+)", (HARDWARE / profile /
                                                                  "asound.conf").read_text(), re.M)]
    assert len(keys) >= 2
    used = [k + i for k in keys for i in (0, 1)]
    assert len(used) == len(set(used)), keys


@pytest.mark.parametrize("profile", PROFILES)
def test_pins_are_a_valid_gpio_section(profile: str) -> None:
    pins = yaml.safe_load((HARDWARE / profile / "pins.yaml").read_text())
    settings = config.from_dict({"gpio": pins["gpio"]})
    if settings.gpio.enabled:
        used = [settings.gpio.interrupt_pin, settings.gpio.ptt_pin, settings.gpio.mute_pin,
                *settings.gpio.led_pins]
        assert len(set(used)) == len(used), f"{profile}: a pin is used twice: {used}"
        assert not {18, 19, 20, 21} & set(used), f"{profile}: a button on an I2S pin"


def test_udev_rules_use_the_units_groups() -> None:
    rules = (HARDWARE / "udev" / "90-appliance.rules").read_text()
    assert 'GROUP="gpio"' in rules and 'GROUP="audio"' in rules
    unit = (HARDWARE.parent / "systemd" / "appliance.service").read_text()
    assert "SupplementaryGroups=audio gpio" in unit
