package worker

import (
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// catalog is what decoding and answering a request needs of the config:
// the subject prefix and the configured jobs. The consumer and the
// advisory listener read it; nothing changes it after New.
type catalog struct {
	prefix  string
	jobs    map[string]jobs.Job
	jobList []jobs.Job
}

func newCatalog(prefix string, jj []jobs.Job) *catalog {
	byName := make(map[string]jobs.Job, len(jj))
	for _, j := range jj {
		byName[j.Name] = j
	}
	return &catalog{prefix: prefix, jobs: byName, jobList: jj}
}

// job returns the configured job of that name.
func (c *catalog) job(name string) (jobs.Job, bool) {
	j, ok := c.jobs[name]
	return j, ok
}

// known reports whether job is configured.
func (c *catalog) known(job string) bool {
	_, ok := c.jobs[job]
	return ok
}

// jobLabel is the job as a metric label: a configured job's name, else
// _unknown, so that junk subjects cannot grow the label set.
func (c *catalog) jobLabel(job string) string {
	if c.known(job) {
		return job
	}
	return contract.UnknownJobToken
}
