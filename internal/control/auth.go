package control

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Note [NATS login]: a NATS client proves the job secret by signing a
// challenge, so nothing replayable crosses the network. The secret
// derives (HKDF-SHA256, label "ddprun nats nkey v1") a 32-byte ed25519
// seed, and from it the job's NATS user key pair; the embedded server
// knows only the public key (UserKey) as its one user. On every
// connection the server sends a fresh random nonce in its INFO, and the
// client answers with the public key and an ed25519 signature of that
// nonce (NATSLogin). A sniffer sees a public key, a nonce and a
// signature valid for that one nonce: it cannot log in, publish
// ctl.abort or ctl.stop, or forge a world. What it still sees is the
// payloads (heartbeats, worlds, failures): the connection is not
// encrypted. A client with another secret, or with the token ddprun
// once used, is refused with "Authorization Violation" and learns
// nothing else.

const nkeyLabel = "ddprun nats nkey v1"

// userKeyPair derives the job's NATS user key pair from the secret.
func userKeyPair(secret []byte) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, DeriveKey(secret, nkeyLabel, 32))
	if err != nil {
		return nil, fmt.Errorf("control: deriving the NATS user key: %w", err)
	}
	return kp, nil
}

// UserKey is the public NATS user key ("U...") of the job with this
// secret: the only user a job's NATS server accepts (see Note [NATS
// login]). It is no secret.
func UserKey(secret []byte) (string, error) {
	kp, err := userKeyPair(secret)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// NATSLogin is the nats.Connect option that logs in as the job's user by
// signing the server's nonce with the key derived from secret.
func NATSLogin(secret []byte) (nats.Option, error) {
	kp, err := userKeyPair(secret)
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("control: deriving the NATS user key: %w", err)
	}
	return nats.Nkey(pub, kp.Sign), nil
}
