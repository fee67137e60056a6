package main

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"

	"github.com/flowd/flowd/internal/flowfilter"
)

// parseFlowFilters reads the values given to --flow-filters (see
// flowfilter.Parse); a bad one is a usage error, as in the AWS CLI.
func parseFlowFilters(args []string, aliases bool) ([]types.FlowFilter, error) {
	ff, err := flowfilter.Parse(args, aliases)
	var fe *flowfilter.Error
	if errors.As(err, &fe) {
		return nil, usageError(fe.Msg)
	}
	return ff, err
}

// parseShorthand parses one shorthand parameter into a structure.
func parseShorthand(s string) (map[string]any, error) { return flowfilter.ParseShorthand(s) }
