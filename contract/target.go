package contract

// keySetTokenPrefix sets a key set's token apart from a connector's, so
// that a job's status keys and result subjects of the two kinds never
// collide: <job>.<connector GUID> and <job>.keyset-<B2C_1A_…>.
const keySetTokenPrefix = "keyset-"

// KeySetToken is a key set as a subject token or key part: keyset-<id>.
func KeySetToken(id string) string { return keySetTokenPrefix + id }

// TargetToken is an outcome's target as a subject token or key part:
// KeySetToken for a key set, ConnectorToken otherwise.
func TargetToken(o Outcome) string {
	if o.TargetKind == KindKeySet {
		return KeySetToken(o.Connector)
	}
	return ConnectorToken(o.Connector)
}

// KeySetStatusKey is the status bucket key of a job's key set:
// <job>.keyset-<id>.
func KeySetStatusKey(job, id string) string { return job + "." + KeySetToken(id) }

// StatusKeyOf is the status bucket key of an outcome's target.
func StatusKeyOf(o Outcome) string { return o.Job + "." + TargetToken(o) }

// ResultSubjectOf is <prefix>.result.<job>.<target token> for an outcome.
func ResultSubjectOf(prefix, job string, o Outcome) string {
	return prefix + ".result." + job + "." + TargetToken(o)
}
