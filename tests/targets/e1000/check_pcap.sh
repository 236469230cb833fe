#!/bin/sh
# Run COMMAND (it writes OUT.pcap), then let tshark check every IP, TCP and
# UDP checksum in it. Exit 77 (ctest SKIP) when tshark is absent.
# usage: check_pcap.sh OUT.pcap COMMAND [ARG...]
set -eu
out=$1
shift
rm -f "$out"
"$@"
if ! command -v tshark >/dev/null 2>&1; then
    echo "SKIP: tshark not installed (apt-get install tshark)"
    exit 77
fi
opts="-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE"
# shellcheck disable=SC2086
frames=$(tshark -n -r "$out" $opts -T fields -e frame.number 2>/dev/null | wc -l)
# shellcheck disable=SC2086
bad=$(tshark -n -r "$out" $opts -Y 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || _ws.malformed || _ws.expert.severity >= warning' -T fields -e frame.number 2>/dev/null | wc -l)
# shellcheck disable=SC2086
good=$(tshark -n -r "$out" $opts -Y 'ip.checksum.status == "Good" && (tcp.checksum.status == "Good" || udp.checksum.status == "Good")' -T fields -e frame.number 2>/dev/null | wc -l)
echo "tshark: $frames frames, $good with good IP and L4 checksums, $bad with errors or warnings"
if [ "$frames" -eq 0 ] || [ "$bad" -ne 0 ] || [ "$good" -ne "$frames" ]; then
    # shellcheck disable=SC2086
    tshark -n -r "$out" $opts -V -Y '_ws.expert' 2>&1 | grep -iE 'expert|bad|malformed' | head -20
    exit 1
fi
