#!/bin/sh
# Prints compiler or linker flags for hiredis and msgpack-c, for binding.gyp.
# msgpack-c 4.x names its pkg-config module "msgpack", 6.x "msgpack-c".
set -e
if pkg-config --exists msgpack-c 2>/dev/null; then mp=msgpack-c; else mp=msgpack; fi
case "$1" in
  --cflags) pkg-config --cflags hiredis "$mp" ;;
  --libs) pkg-config --libs hiredis "$mp" ;;
  *) echo "usage: $0 --cflags|--libs" >&2; exit 2 ;;
esac
