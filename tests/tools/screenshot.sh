#!/usr/bin/env bash
# Screenshot of the real app under Xvfb, after its first prediction.
#
#   tests/tools/screenshot.sh [--theme light|dark] [--out FILE.png] [--model resnet18] [IMAGE]
#
# Uses seeded fake weights in a temporary TORCH_HOME (nothing is downloaded) and a private
# settings file. Installs Xvfb, xdotool, ImageMagick and Qt's xcb libraries when missing
# (Debian, as root).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"

need_install=0
for cmd in Xvfb xdotool import; do
    command -v "$cmd" >/dev/null 2>&1 || need_install=1
done
[ -e /usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libxcb-cursor.so.0 ] || need_install=1
if [ "$need_install" = 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "screenshot.sh: Xvfb, xdotool, imagemagick and Qt's xcb libraries are needed (run as root to install them)" >&2
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xdotool imagemagick \
        libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
        libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 >/dev/null
fi

cd "$repo"
exec "$python" "$repo/tests/tools/screenshot_app.py" "$@"
