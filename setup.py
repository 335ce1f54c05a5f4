"""Build the optional native pricing kernel; all other metadata lives in pyproject.toml.

``src/vixshield/pricing/_kernel.c`` is plain C (no Python C-API) compiled into a shared
object inside the package and loaded with ctypes by ``vixshield.pricing._native``. It is
``optional``: where no C compiler is found the install still succeeds and the package falls
back to the numpy kernel (``vixshield.pricing._native.AVAILABLE`` is then False; CI asserts it
is True).
"""

from __future__ import annotations

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# -O3 for the loops; -fno-math-errno lets sqrt inline. Never -ffast-math: the kernel's
# NaN/inf checks (reason codes) must keep their IEEE meaning.
UNIX_FLAGS = ["-O3", "-std=c11", "-fno-math-errno", "-fvisibility=hidden"]


class BuildPlainSharedLibrary(build_ext):
    """Compile the kernel as a plain shared library: no ``PyInit_`` export, portable flags."""

    def build_extensions(self) -> None:
        flags = UNIX_FLAGS if self.compiler.compiler_type == "unix" else ["/O2"]
        for ext in self.extensions:
            ext.extra_compile_args = [*flags, *ext.extra_compile_args]
        super().build_extensions()

    def get_export_symbols(self, ext: Extension) -> list[str]:
        # The library is loaded with ctypes, never imported, so it defines no PyInit_ symbol.
        return list(ext.export_symbols or [])


setup(
    ext_modules=[
        Extension(
            "vixshield.pricing._kernel",
            sources=["src/vixshield/pricing/_kernel.c"],
            libraries=["m"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildPlainSharedLibrary},
)
