package vaultsrc

// Validate checks cfg the way New does before it logs in: the auth method
// has what it needs and the client can be built (address, CA file). It
// makes no network call, so that `certrotator validate` refuses exactly
// what starting the worker refuses, with the same message.
func (cfg Config) Validate() error {
	if _, err := authWithDefaults(cfg.Auth); err != nil {
		return err
	}
	_, err := newAPIClient(cfg, defaultHTTPClient())
	return err
}
