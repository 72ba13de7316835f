#!/bin/sh
# Collect a runnable Python into $1 (see Dockerfile.minimal): interpreter, stdlib, the shared
# libraries the interpreter and its extension modules load, and their packages' dpkg records.
set -eu
out=$1
py=$(readlink -f /usr/bin/python3)
stdlib=/usr/lib/python3.11
mkdir -p "$out/usr/bin" "$out/var/lib/dpkg/status.d" "$out/tmp"
chmod 1777 "$out/tmp"
cp -a --parents "$py" "$stdlib" /etc/ld.so.cache /etc/os-release /usr/lib/os-release "$out"
rm -rf "$out$stdlib/test" "$out$stdlib/idlelib" "$out$stdlib/tkinter" "$out$stdlib/ensurepip" \
       "$out$stdlib/lib2to3" "$out$stdlib/turtledemo" "$out$stdlib/distutils/tests"
ln -s "$(basename "$py")" "$out/usr/bin/python3"
ln -s "$(basename "$py")" "$out/usr/bin/python"
# every library ldd resolves (and the loader itself), copied as files at the same paths
for f in "$py" "$stdlib"/lib-dynload/*.so; do ldd "$f"; done \
  | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u > /tmp/libs
# merged /usr as in the base: /lib, /lib64 and /bin are links, each library is copied at its
# /usr path, as the name the loader asks for (a link kept as a link) and as the file it names
ln -s usr/lib "$out/lib" && ln -s usr/lib64 "$out/lib64" && ln -s usr/bin "$out/bin"
while read -r lib; do
  kept="$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"
  cp -a --parents "$kept" "$out" && cp -L --parents "$(readlink -f "$lib")" "$out"
done < /tmp/libs
# the packages those files belong to, one dpkg status record each
{ echo "$py"; echo "$stdlib/os.py"; ls "$stdlib"/lib-dynload/*.so; cat /tmp/libs; } \
  | while read -r f; do dpkg -S "$f" 2>/dev/null || dpkg -S "$(readlink -f "$f")" 2>/dev/null || true; done \
  | cut -d: -f1 | tr ',' '\n' | tr -d ' ' | sort -u > /tmp/packages
while read -r p; do dpkg -s "$p" > "$out/var/lib/dpkg/status.d/$p"; done < /tmp/packages
