"""Facts of the Processing contract that the Dockerfile (SM1xx), image (SM2xx),
job (SM3xx) and run (SM4xx) sides share, kept in one place so all read the
contract alike.

GPU (contract section 4): the runtime injects the host's driver; a driver
inside the image shadows it.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re

DRIVER_LIBRARIES = (
    "libcuda.so*", "libnvidia-ml.so*", "libnvidia-ptxjitcompiler.so*", "libnvidia-nvvm.so*",
    "libnvidia-opencl.so*", "libnvidia-cfg.so*", "libnvidia-gpucomp.so*", "libnvidia-allocator.so*",
    "libnvidia-compiler.so*", "libnvidia-fatbinaryloader.so*", "libcudadebugger.so*", "libnvcuvid.so*",
    "libnvidia-encode.so*", "libnvidia-opticalflow.so*", "libnvidia-glcore.so*", "libnvidia-eglcore.so*",
    "libGLX_nvidia.so*",
)
DRIVER_BINARIES = ("nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-control",
                   "nvidia-cuda-mps-server")
KERNEL_MODULES = ("nvidia*.ko", "nvidia*.ko.xz", "nvidia*.ko.zst", "nvidia*.ko.gz")
FIRMWARE_DIRS = ("/lib/firmware/nvidia/", "/usr/lib/firmware/nvidia/")

# Link-time stubs and the cuda-compat forward-compatibility package.
_ALLOWED = re.compile(r"^/usr/local/cuda[^/]*/(lib64/stubs/|targets/[^/]+/lib/stubs/|compat/)")

OPT_ML = "/opt/ml"
PROCESSING = "/opt/ml/processing"  # inputs and outputs live below it (section 3)
CONFIG_DIR = "/opt/ml/config"  # processingjobconfig.json, resourceconfig.json
OUTPUT_DIR = "/opt/ml/output"  # where the job writes `message` (ExitMessage)
AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

# The catalog's names, plus the same packages under their RPM names (NVIDIA's
# RHEL/Amazon Linux repositories: bare `nvidia-driver`, `libnvidia-ml`,
# `nvidia-kmod-common`; RPM Fusion: `akmod-nvidia`, `xorg-x11-drv-nvidia*`).
_DRIVER_PACKAGE = re.compile(
    r"^(cuda|cuda-\d+-\d+|cuda-runtime-\d+-\d+|cuda-drivers.*|nvidia-driver|nvidia-driver-.*|libnvidia-compute-.*"
    r"|nvidia-utils-.*|nvidia-dkms-.*|libcuda1|libnvidia-ml1?|kmod-nvidia.*|nvidia-kernel-.*|nvidia-kmod-.*"
    r"|akmod-nvidia.*|xorg-x11-drv-nvidia.*)$"
)


# One pattern for every driver library and kernel module name (checked per path: keep it cheap).
_DRIVER_NAME = re.compile("|".join(fnmatch.translate(p) for p in DRIVER_LIBRARIES + KERNEL_MODULES))


def is_allowed_location(path: str) -> bool:
    return bool(_ALLOWED.match(path))


def is_driver_file(path: str) -> bool:
    """True for a driver library, tool, kernel module or firmware, outside the allow-list."""
    if is_allowed_location(path):
        return False
    if path.startswith(FIRMWARE_DIRS):
        return True
    base = posixpath.basename(path)
    return base in DRIVER_BINARIES or _DRIVER_NAME.match(base) is not None


def is_driver_package(name: str) -> bool:
    """`cuda-toolkit-12-2`, `cuda-compat-12-2`, `libcudnn8` are not; `cuda-12-2` is."""
    return bool(_DRIVER_PACKAGE.match(name.split(":", 1)[0]))


def gpu_hidden_reasons(env: dict[str, str]) -> list[tuple[str, str]]:
    """(variable, why) for each setting that hides the GPU from the job."""
    reasons = []
    visible = env.get("NVIDIA_VISIBLE_DEVICES")
    if visible is not None and visible.strip().lower() in ("void", "none", ""):
        reasons.append(("NVIDIA_VISIBLE_DEVICES", f"is {visible!r}: no GPU is visible in the container"))
    capabilities = env.get("NVIDIA_DRIVER_CAPABILITIES")
    if capabilities is not None and not {c.strip().lower() for c in capabilities.split(",")} & {"compute", "all"}:
        reasons.append(("NVIDIA_DRIVER_CAPABILITIES",
                        f"is {capabilities!r}, without compute or all: CUDA cannot use the GPU"))
    return reasons


def runs_as_root(user: str, uids: dict[str, int] | None = None) -> bool | None:
    """Whether a USER / config User value runs the job as uid 0, whatever the
    group (`0:1000`, `root:staff`): output directories are created root-owned
    before the job starts (contract section 3), so only root can write them.
    Empty means root. A name other than `root` is looked up in `uids` (the
    image's /etc/passwd); without them it counts as not root. None: a name
    `uids` does not hold (unknown)."""
    name = user.split(":", 1)[0].strip()
    if not name or name == "root":
        return True
    if name.isdigit():
        return int(name) == 0
    if uids is None:
        return False
    uid = uids.get(name)
    return None if uid is None else uid == 0
