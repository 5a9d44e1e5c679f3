package control

import (
	"crypto/hkdf"
	"crypto/sha256"
	"strconv"
)

// Subject names the NATS subject name of job: "ddprun.<job>.<name>". Every
// subject of a job lives under "ddprun.<job>.", so jobs sharing a server
// never see each other's messages.
func Subject(job, name string) string { return "ddprun." + job + "." + name }

// HeartbeatSubject is where rank publishes its heartbeats.
func HeartbeatSubject(job string, rank int) string {
	return Subject(job, "hb."+strconv.Itoa(rank))
}

// HeartbeatWildcard matches every rank's heartbeats.
func HeartbeatWildcard(job string) string { return Subject(job, "hb.*") }

// StopSubject carries the launcher's request to stop cleanly.
func StopSubject(job string) string { return Subject(job, "ctl.stop") }

// DeriveKey derives an n-byte key for purpose from the job secret with
// HKDF-SHA256. Different purposes give independent keys.
func DeriveKey(secret []byte, purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, purpose, n)
	if err != nil { // only for n > 255*32
		panic("control: DeriveKey: " + err.Error())
	}
	return k
}
