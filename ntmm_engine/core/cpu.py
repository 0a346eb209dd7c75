"""What this CPU offers INT8 inference, and how steady it is right now (load, frequency governor).

Read from ``/proc/cpuinfo`` and ``/sys`` on Linux, ``sysctl`` on macOS, and
reported as unknown elsewhere. Here rather than in ``benchmark/`` because
both the optimize step (7-bit weights on CPUs without VNNI) and the
benchmark (the capabilities it records, the warning it prints) need it, and
those two layers may not import each other.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

# Fast INT8 dot products: VNNI on x86 (AVX-512 VNNI, or AVX-VNNI on recent desktop CPUs), AMX on Sapphire Rapids
# and later, SDOT/UDOT ("asimddp") on 64-bit ARM.
X86_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "avx512f", "avx2")
NO_VNNI_NOTE = ("this CPU has no INT8 dot-product instructions (VNNI / ARM dot product): dynamic INT8 "
                "is known to give little speed-up here, and ONNX Runtime uses 7-bit weights")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (x86 ``flags``, ARM ``Features``); empty if unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key = line.split(":", 1)[0].strip().lower()
        if key in ("flags", "features") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def _sysctl(name: str) -> str:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def int8_capabilities(cpuinfo: str | None = None, machine: str | None = None, system: str | None = None) -> dict[str, Any]:
    """The INT8-relevant features of this CPU and a warning where dynamic INT8 is known to help little.

    ``cpuinfo``, ``machine`` and ``system`` are for tests (the text of a
    ``/proc/cpuinfo``, ``platform.machine()``, ``platform.system()``).
    """
    machine = (machine or platform.machine()).lower()
    system = system or platform.system()
    arm = machine in ("arm64", "aarch64") or machine.startswith("arm")
    caps: dict[str, Any] = {"arch": "arm64" if arm else machine or "unknown", "source": "unknown",
                            "vnni": None, "avx512": None, "avx2": None, "amx": None, "arm_dotprod": None}
    if system == "Linux" or cpuinfo is not None:
        flags = cpu_flags(cpuinfo)
        if flags:
            caps["source"] = "/proc/cpuinfo"
            if arm:
                caps["arm_dotprod"] = "asimddp" in flags
            else:
                caps.update(vnni="avx512_vnni" in flags or "avx_vnni" in flags, avx512="avx512f" in flags,
                            avx2="avx2" in flags, amx="amx_int8" in flags)
    elif system == "Darwin":
        if arm:  # every Apple silicon CPU has the dot-product extension
            dot = _sysctl("hw.optional.arm.FEAT_DotProd")
            caps.update(source="sysctl", arm_dotprod=dot == "1" if dot else True)
        else:
            feats = (_sysctl("machdep.cpu.features") + " " + _sysctl("machdep.cpu.leaf7_features")).lower().split()
            if feats:
                caps.update(source="sysctl", vnni="avx512vnni" in feats, avx512="avx512f" in feats, avx2="avx2" in feats,
                            amx=False)
    fast = caps["arm_dotprod"] if arm else caps["vnni"] or caps["amx"]
    caps["fast_int8"] = fast
    caps["warning"] = NO_VNNI_NOTE if fast is False else ""
    caps["summary"] = _summary(caps)
    return caps


def _summary(c: dict[str, Any]) -> str:
    if c["source"] == "unknown":
        return f"{c['arch']}: INT8 features unknown"
    if c["arch"] == "arm64":
        return "arm64, " + ("dot product (SDOT/UDOT)" if c["arm_dotprod"] else "no dot product")
    have = [name for name, key in (("AVX-512 VNNI/AVX-VNNI", "vnni"), ("AMX-INT8", "amx"), ("AVX-512", "avx512"), ("AVX2", "avx2"))
            if c.get(key)]
    return f"{c['arch']}: " + (", ".join(have) if have else "no AVX2") + ("" if c["vnni"] else "; no VNNI")


# ------------------------------------------------------------------ how steady the machine is
def load_average() -> float | None:
    """The 1-minute load average (None where the OS has none, e.g. Windows)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def governors() -> list[str]:
    """The CPU frequency governors in use (Linux cpufreq; [] where unknown, e.g. in most VMs)."""
    found = set()
    for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor"):
        try:
            found.add(p.read_text().strip())
        except OSError:
            continue
    return sorted(found)


def machine_state() -> dict[str, Any]:
    """Load, governor and the system-wide CPU time so far (to tell later how much other programs used)."""
    import psutil

    per_cpu = psutil.cpu_times(percpu=True)
    try:  # only the CPUs this process may run on: busy CPUs elsewhere on the host do not slow it down
        mine = [per_cpu[i] for i in sorted(os.sched_getaffinity(0)) if i < len(per_cpu)] or per_cpu
    except AttributeError:  # macOS, Windows
        mine = per_cpu
    busy = sum(getattr(t, k, 0.0) for t in mine for k in ("user", "nice", "system", "irq", "softirq", "steal"))
    return {"load_1min": load_average(), "governors": governors(), "cpu_busy_seconds": round(busy, 3),
            "platform": sys.platform}
