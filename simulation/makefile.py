"""A faster compile of Brian2's generated ``cpp_standalone`` project: a precompiled header, no dependency scan.

Brian2 (2.10) writes one C++ file per code object; every one of them includes ``objects.h``, which pulls in
the standard library (``<random>``, ``<iostream>``, ...) and the declarations of every array. Parsing those
headers takes about 0.5 s of a code object's 0.6-0.8 s compile, and a network of the e-prop agent has some
60 code objects. Its makefile also preprocesses every source once more, serially, to write ``make.deps``
(about 5 s) before the first compile starts. :func:`speed_up_makefile` rewrites the makefile so that

- ``objects.h`` is compiled once into a precompiled header (``objects.h.gch``, with the project's own flags)
  and every code object is compiled with ``-include objects.h``, which GCC then reads from the precompiled
  header (the object files are the same bytes: the header is the one the sources include first anyway);
- every object depends on that precompiled header, which depends on every header of the project, so a
  changed header recompiles all objects; this replaces ``make.deps``, which is no longer written;
- ``objects.cpp`` (array allocation, the reading and writing of array files: no simulation code) is
  compiled at ``-O1`` instead of ``-O3 -ffast-math``, about a third of its time.

A project whose makefile does not have the lines this expects (another Brian2 version, the Windows
makefile) is left as Brian2 wrote it.
"""

import os

__all__ = ["PRECOMPILED_HEADER", "speed_up_makefile"]

#: The precompiled header the rewritten makefile writes (a compiler output: not part of a build's identity).
PRECOMPILED_HEADER = "objects.h.gch"

_MARK = "# brian2learn: precompiled objects.h (simulation/makefile.py)"
_DEPS_LINE = "DEPS = make.deps"
_PATTERN_RECIPE = "\t$(CXX) $(CXXFLAGS) $< -o $@"
_RULES = f"""
{_MARK}
PCH_INCLUDE = -include objects.h
{PRECOMPILED_HEADER}: objects.h $(H_SRCS) makefile
\t$(CXX) $(CXXFLAGS) -x c++-header objects.h -o {PRECOMPILED_HEADER}
$(filter-out objects.o,$(OBJS)): {PRECOMPILED_HEADER}
objects.o: $(H_SRCS)
objects.o: PCH_INCLUDE =
objects.o: CXXFLAGS += -O1
"""


def speed_up_makefile(directory):
    """Rewrite the ``makefile`` of the generated project in ``directory`` (see the module); True if rewritten.

    Idempotent: a makefile already rewritten, or one without Brian2's expected lines, is left unchanged
    (False).
    """
    path = os.path.join(directory, "makefile")
    if not os.path.exists(path) or not os.path.exists(os.path.join(directory, "objects.h")):
        return False
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    lines = text.split("\n")
    if _MARK in text or lines.count(_DEPS_LINE) != 1 or lines.count(_PATTERN_RECIPE) != 1:
        return False
    lines[lines.index(_DEPS_LINE)] = "DEPS ="  # headers reach every object through the precompiled header
    lines[lines.index(_PATTERN_RECIPE)] = "\t$(CXX) $(CXXFLAGS) $(PCH_INCLUDE) $< -o $@"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines).rstrip("\n") + "\n" + _RULES)
    return True
