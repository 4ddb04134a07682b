package client

import (
	"context"
	"errors"

	"github.com/certrotator/certrotator/contract"
)

// LastSucceeded returns, per status key (<job>.<connector>), the latest
// succeeded outcome on the results stream. The status bucket keeps only
// the latest outcome, so a later skip hides when a certificate was last
// uploaded; the stream still has it. It reads the whole stream (at most its
// 90 days), one pass. No stream yet means no upload.
func (c *Conn) LastSucceeded(ctx context.Context) (map[string]contract.Event, error) {
	last := map[string]contract.Event{}
	err := c.Events(ctx, 0, false, func(ev contract.Event) error {
		if ev.Data.Status == contract.StatusSucceeded && ev.Data.Connector != "" {
			last[contract.StatusKeyOf(ev.Data)] = ev
		}
		return nil
	})
	if errors.Is(err, ErrNoStreams) {
		return last, nil
	}
	if err != nil {
		return nil, err
	}
	return last, nil
}
