package decode

// DiffPcap exposes the differential check against gopacket to the external
// test package, which may import the traffic generator (bench/gen imports
// decode, so package decode's own tests cannot).
var DiffPcap = diffPcap
