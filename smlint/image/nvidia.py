"""What counts as an NVIDIA driver in an image (contract section 4).

The runtime injects the host's driver; a driver inside the image shadows it.
Kept in one place so the Dockerfile rules (SM120/SM122) can share it.
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

_DRIVER_PACKAGE = re.compile(
    r"^(cuda|cuda-\d+-\d+|cuda-runtime-\d+-\d+|cuda-drivers.*|nvidia-driver-.*|libnvidia-compute-.*"
    r"|nvidia-utils-.*|nvidia-dkms-.*|libcuda1|libnvidia-ml1|kmod-nvidia.*|nvidia-kernel-.*)$"
)


def is_allowed_location(path: str) -> bool:
    return bool(_ALLOWED.match(path))


def is_driver_file(path: str) -> bool:
    """True for a driver library, tool, kernel module or firmware, outside the allow-list."""
    if is_allowed_location(path):
        return False
    if any(path.startswith(d) for d in FIRMWARE_DIRS):
        return True
    base = posixpath.basename(path)
    return (
        base in DRIVER_BINARIES
        or any(fnmatch.fnmatchcase(base, p) for p in DRIVER_LIBRARIES)
        or any(fnmatch.fnmatchcase(base, p) for p in KERNEL_MODULES)
    )


def is_driver_package(name: str) -> bool:
    """`cuda-toolkit-12-2`, `cuda-compat-12-2`, `libcudnn8` are not; `cuda-12-2` is."""
    return bool(_DRIVER_PACKAGE.match(name.split(":", 1)[0]))
