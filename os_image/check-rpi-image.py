#!/usr/bin/env python3
"""Check a built Raspberry Pi SD image without a board: partition table, the FAT boot files the
Pi firmware needs, and the root the appliance runs from. Reads the image in place with mtools
and debugfs (both already needed by build.sh); prints one line per check and exits non-zero if
any fails. build.sh runs it on every image it makes.

Usage: os_image/check-rpi-image.py IMAGE [--ssh]   (--ssh: the image was built with --ssh-key)
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
from pathlib import Path

SECTOR = 512


def partitions(img: Path) -> list[tuple[int, bool, int, int]]:
    """(type, bootable, start byte, size bytes) of each MBR primary partition in use."""
    with img.open("rb") as fh:
        mbr = fh.read(SECTOR)
    if mbr[510:512] != b"\x55\xaa":
        raise SystemExit(f"{img}: no MBR boot signature")
    out = []
    for i in range(4):
        entry = mbr[446 + 16 * i: 446 + 16 * (i + 1)]
        status, ptype = entry[0], entry[4]
        start, count = struct.unpack("<II", entry[8:16])
        if ptype:
            out.append((ptype, status == 0x80, start * SECTOR, count * SECTOR))
    return out


def run(*cmd: str) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {res.stderr.strip() or res.returncode}")
    return res.stdout


class Image:
    def __init__(self, img: Path) -> None:
        self.img = img
        parts = partitions(img)
        if len(parts) != 2:
            raise SystemExit(f"{img}: expected 2 partitions (boot, root), found {len(parts)}")
        self.boot, self.root = parts
        self.fat = f"{img}@@{self.boot[2]}"
        self.ext4 = f"{img}?offset={self.root[2]}"

    def fat_files(self) -> list[str]:
        return [line.strip() for line in run("mdir", "-b", "-i", self.fat, "::/").splitlines()]

    def fat_read(self, name: str) -> str:
        return run("mtype", "-i", self.fat, f"::/{name}")

    def fat_label(self) -> str:
        return run("mlabel", "-s", "-i", self.fat, "::").split("is", 1)[-1].strip()

    def debugfs(self, request: str) -> str:
        return run("debugfs", "-R", request, self.ext4)

    def root_read(self, path: str) -> str:
        return self.debugfs(f"cat {path}")

    def root_exists(self, path: str) -> bool:
        return "File not found" not in subprocess.run(
            ["debugfs", "-R", f"stat {path}", self.ext4], capture_output=True, text=True
        ).stderr

    def root_label(self) -> str:
        out = run("dumpe2fs", "-h", self.ext4)
        m = re.search(r"^Filesystem volume name:\s*(\S+)", out, re.M)
        return m.group(1) if m else ""


def checks(im: Image, ssh: bool) -> list[tuple[str, bool, str]]:
    results: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        results.append((name, ok, detail))

    check("boot partition: FAT32 LBA (0x0c), bootable", im.boot[0] == 0x0C and im.boot[1],
          f"type {im.boot[0]:#04x}")
    check("root partition: Linux (0x83)", im.root[0] == 0x83, f"type {im.root[0]:#04x}")
    check("boot label RASPIFIRM", im.fat_label() == "RASPIFIRM", im.fat_label())
    check("root label RASPIROOT", im.root_label() == "RASPIROOT", im.root_label())

    files = {Path(f).name for f in im.fat_files()}
    for need in ("config.txt", "cmdline.txt", "start4.elf", "fixup4.dat",
                 "bcm2711-rpi-4-b.dtb"):
        check(f"boot: {need}", need in files)
    kernel = sorted(f for f in files if f.startswith("vmlinuz-"))
    initrd = sorted(f for f in files if f.startswith("initrd.img-"))
    check("boot: kernel and initrd", bool(kernel and initrd), f"{kernel} {initrd}")
    config = im.fat_read("config.txt")
    for want in (f"kernel={kernel[-1] if kernel else '?'}", "arm_64bit=1", "dtparam=i2s=on"):
        check(f"config.txt: {want}", want in config)
    initramfs = re.search(r"^initramfs (\S+)", config, re.M)
    check("config.txt: initramfs present on the partition",
          bool(initramfs and initramfs.group(1) in files), initramfs.group(0) if initramfs else "")
    cmdline = im.fat_read("cmdline.txt")
    check("cmdline.txt: root=LABEL=RASPIROOT", "root=LABEL=RASPIROOT" in cmdline, cmdline.strip())

    fstab = im.root_read("/etc/fstab")
    check("fstab mounts both labels", "LABEL=RASPIROOT" in fstab and "LABEL=RASPIFIRM" in fstab)
    check("kernel modules for the kernel on the boot partition",
          bool(kernel) and im.root_exists(f"/lib/modules/{kernel[-1][len('vmlinuz-'):]}"))
    for path in ("/opt/appliance/venv/bin/appliance", "/etc/appliance/config.yaml",
                 "/etc/asound.conf", "/etc/systemd/system/appliance.service",
                 "/etc/systemd/system/multi-user.target.wants/appliance.service",
                 "/etc/systemd/system/timers.target.wants/appliance-router-retrain.timer",
                 "/usr/lib/sysusers.d/appliance.conf"):
        check(f"root: {path}", im.root_exists(path))
    shadow = im.root_read("/etc/shadow")
    hashes = [line.split(":")[0] for line in shadow.splitlines()
              if line.count(":") > 2 and line.split(":")[1] not in ("!", "*", "!*", "")]
    check("no account has a password", not hashes, ", ".join(hashes))
    check("appliance user exists", any(line.startswith("appliance:")
                                       for line in im.root_read("/etc/passwd").splitlines()))
    has_sshd = im.root_exists("/usr/sbin/sshd")
    if ssh:
        check("ssh: server installed with the build key only",
              has_sshd and bool(im.root_read("/root/.ssh/authorized_keys").strip()))
        conf = im.root_read("/etc/ssh/sshd_config.d/appliance.conf")
        check("ssh: password logins off", "PasswordAuthentication no" in conf)
        check("ssh: no host keys baked in", not im.root_exists("/etc/ssh/ssh_host_ed25519_key"))
    else:
        check("ssh: no server without a key", not has_sshd)
    machine_id = im.root_read("/etc/machine-id").strip()
    check("machine-id empty (made on first boot)", machine_id == "", machine_id)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image", type=Path)
    ap.add_argument("--ssh", action="store_true", help="the image was built with --ssh-key")
    args = ap.parse_args()
    try:
        results = checks(Image(args.image), args.ssh)
    except RuntimeError as exc:
        print(f"check-rpi-image: {exc}", file=sys.stderr)
        return 1
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f"  ({detail})" if detail and not ok else ""))
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed}/{len(results)} image checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
