//go:build !linux

package capture

// AFPacket is the Linux AF_PACKET live source; other systems have none.
type AFPacket struct{}

// OpenAFPacket reports that AF_PACKET exists only on Linux.
func OpenAFPacket(iface string, n int, cfg AFPacketConfig) ([]*AFPacket, error) {
	return nil, liveErr("afpacket", iface, ErrNotSupported, "(AF_PACKET is Linux only; use the libpcap source)", nil)
}

func (s *AFPacket) ReadBatch(dst []Frame) (int, error) { return 0, ErrClosed }
func (s *AFPacket) Stats() Stats                       { return Stats{Size: -1} }
func (s *AFPacket) LiveStats() LiveStats               { return LiveStats{Stats: Stats{Size: -1}} }
func (s *AFPacket) LinkType() LinkType                 { return LinkEthernet }
func (s *AFPacket) FanoutGroup() uint16                { return 0 }
func (s *AFPacket) Close() error                       { return nil }
