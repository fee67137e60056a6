package main

import (
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

// eveFlags are the settings of EVE output that replay, serve and watch
// share.
type eveFlags struct {
	communityIDSeed uint
	noCommunityID   bool
}

func (x *eveFlags) register(fs *cmdFlags) {
	fs.UintVar(&x.communityIDSeed, "community-id-seed", 0, "seed of the EVE community_id (Community ID v1; 0 unless the other tools you join with use another)")
	fs.BoolVar(&x.noCommunityID, "no-community-id", false, "leave community_id out of EVE events")
}

// options are the output options for sources infos.
func (x *eveFlags) options(infos []engine.SourceInfo) (output.Options, error) {
	if x.communityIDSeed > 0xffff {
		return output.Options{}, usagef("--community-id-seed %d: want 0 to 65535", x.communityIDSeed)
	}
	return output.Options{SourceName: sourceNames(infos), CommunityIDSeed: uint16(x.communityIDSeed), NoCommunityID: x.noCommunityID}, nil
}
