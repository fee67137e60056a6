package filter

import (
	"errors"
	"fmt"
)

// ErrInvalid is the sentinel every validation error of Compile matches
// with errors.Is.
var ErrInvalid = errors.New("invalid flow filter")

// ValidationError says which request member broke which rule. Path is the
// member in AWS request notation (FlowFilters[3].DestinationPort,
// FlowFilters[0].SourceAddress.AddressDefinition, FlowFilters[1].Protocols[0],
// FlowFilters, MinimumFlowAgeInSeconds); Msg states the rule with the
// offending value quoted. Error() is "Path: Msg", written to be used as an
// InvalidRequestException message as it is.
type ValidationError struct {
	Path string
	Msg  string
}

func (e *ValidationError) Error() string { return e.Path + ": " + e.Msg }

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(path, format string, args ...any) *ValidationError {
	return &ValidationError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// maxQuoted bounds how much of an offending value an error message repeats,
// so a megabyte-long port string does not come back as a megabyte-long
// message.
const maxQuoted = 64

// quote renders an offending value for a message: Go-quoted (so control
// bytes and invalid UTF-8 are visible), cut after maxQuoted bytes with the
// full length said.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:maxQuoted], len(s))
}
