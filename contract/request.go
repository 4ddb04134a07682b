package contract

import "fmt"

// CheckRequest says which field of req is over its bound, naming the
// field and the bound; nil when none is. The worker refuses such a request
// as bad_request, and PublishRequest refuses to send it.
func CheckRequest(req Request) error {
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{
		{"job", req.Job, RequestMaxJob},
		{"trigger", req.Trigger, RequestMaxTrigger},
		{"reason", req.Reason, RequestMaxReason},
		{"requested_by", req.RequestedBy, RequestMaxRequestedBy},
	} {
		if len(f.value) > f.max {
			return fmt.Errorf("request field %s is %d bytes: it is limited to %d", f.name, len(f.value), f.max)
		}
	}
	for i, c := range req.Connectors {
		if len(c) > RequestMaxConnector {
			return fmt.Errorf("request field connectors[%d] is %d bytes: a connector id is limited to %d", i, len(c), RequestMaxConnector)
		}
	}
	return nil
}
