#!/usr/bin/env bash
# deps.sh [--quiet] [test|demo|bench]: install the Debian packages a make target needs when
# they are missing. Installs only as root; otherwise says what is missing and goes on (tests
# that need a missing tool skip with a reason).
set -u
quiet=0
[ "${1:-}" = "--quiet" ] && { quiet=1; shift; }
what=${1:-test}
# libpcap-dev: the libpcap live source and BPF compilation are built with cgo.
# tshark: cross-checks against Wireshark's dissectors. nfdump: nfcapd, the
# collector the IPFIX/NetFlow export tests send to. iproute2, tcpreplay: the
# live-capture tests' network namespaces and replayed traffic.
case "$what" in
  demo)  pkgs=(libpcap-dev) ;;
  test)  pkgs=(libpcap-dev tshark nfdump iproute2 tcpreplay) ;;
  bench) pkgs=(libpcap-dev tshark softflowd argus-server argus-client nfdump iproute2 tcpreplay) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: not root, so not installing: ${missing[*]} (tests needing them will skip)" >&2
  exit 0
fi
[ $quiet = 1 ] || echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || echo "deps: apt-get install ${missing[*]} failed; tests needing them will skip" >&2
exit 0
