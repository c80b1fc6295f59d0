#!/bin/sh
# Prints compiler or linker flags for hiredis and msgpack-c, for binding.gyp.
# msgpack-c 4.x names its pkg-config module "msgpack", 6.x "msgpack-c".
#   --cflags        compiler flags
#   --libs          linker flags (shared libraries: the default source build)
#   --static-libs   the paths of libhiredis.a and libmsgpackc.a (prebuilt binaries: nothing to install
#                   at run time); fails if an archive is missing
set -e
if ! command -v pkg-config >/dev/null 2>&1; then
  echo "socket.io-hiredis-adapter: building from source needs pkg-config, hiredis and msgpack-c (see README, Install)" >&2
  exit 1
fi
if pkg-config --exists msgpack-c 2>/dev/null; then mp=msgpack-c; else mp=msgpack; fi
case "$1" in
  --cflags) pkg-config --cflags hiredis "$mp" ;;
  --libs) pkg-config --libs hiredis "$mp" ;;
  --static-libs)
    dirs=$(pkg-config --libs-only-L hiredis "$mp" | sed 's/-L//g')
    out=""
    for l in $(pkg-config --libs-only-l hiredis "$mp" | sed 's/-l//g'); do
      found=""
      for d in $dirs; do
        if [ -f "$d/lib$l.a" ]; then found="$d/lib$l.a"; break; fi
      done
      if [ -z "$found" ]; then
        # The compiler's own search path (Debian's multiarch directory is not in the .pc files).
        p=$(${CC:-cc} -print-file-name="lib$l.a")
        if [ -f "$p" ]; then found="$p"; fi
      fi
      if [ -z "$found" ]; then
        echo "scripts/pkgconf.sh: no static archive lib$l.a (needed for a self-contained binary)" >&2
        exit 1
      fi
      out="$out $found"
    done
    echo $out
    ;;
  *) echo "usage: $0 --cflags|--libs|--static-libs" >&2; exit 2 ;;
esac
