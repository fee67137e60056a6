//go:build !linux

package sys

// The AF_PACKET and namespace helpers exist only on Linux; here each one
// says so.

func PacketSocket() (int, error)                             { return -1, ErrNotSupported }
func Close(fd int) error                                     { return ErrNotSupported }
func InterfaceByName(fd int, name string) (Interface, error) { return Interface{}, ErrNotSupported }
func PacketSetupRing(fd int, r PacketRing) ([]byte, error)   { return nil, ErrNotSupported }
func PacketUnmap(mem []byte) error                           { return ErrNotSupported }
func PacketAttachFilter(fd int, prog []SockFilter) error     { return ErrNotSupported }
func PacketBind(fd, ifindex int) error                       { return ErrNotSupported }
func PacketPromisc(fd, ifindex int) error                    { return ErrNotSupported }
func PacketFanout(fd int, id uint16, prog []SockFilter, defrag, unique bool) (uint16, error) {
	return 0, ErrNotSupported
}
func PacketStatistics(fd int) (PacketStats, error) { return PacketStats{}, ErrNotSupported }
func SocketError(fd int) error                     { return ErrNotSupported }
func Poll(fd int, timeoutMs int) (int, error)      { return 0, ErrNotSupported }
func CurrentNetns() (int, error)                   { return -1, ErrNotSupported }
func OpenNetns(path string) (int, error)           { return -1, ErrNotSupported }
func InNetns(nsfd int, f func() error) error       { return ErrNotSupported }

func PacketDetachFilter(fd int) error { return ErrNotSupported }
