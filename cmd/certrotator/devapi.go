package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The demo's pinning API: the job devProbeJob probes it before each upload
// to connector devConnector4, whose targetUrl points at it.
const (
	devProbeJob   = "demo-pinned"
	devConnector4 = "7b3a0c1e-0000-4000-8000-000000000004"
)

// devAPI is an HTTPS API that pins client certificate thumbprints, listed
// one a line in a file the operator edits: the demo's rejected rotation,
// and its fix.
type devAPI struct {
	url      string
	caPEM    []byte // its self-signed server certificate, for probe.ca_file
	pinsFile string
	srv      *http.Server
}

// startDevAPI serves the pinning API on 127.0.0.1 at a free port.
func startDevAPI(pinsFile string) (*devAPI, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the demo API's key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "demo pinning API"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing the demo API's certificate: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the demo API: %w", err)
	}
	a := &devAPI{
		url:      "https://" + l.Addr().String() + "/api/signup",
		caPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pinsFile: pinsFile,
	}
	a.srv = &http.Server{
		Handler:           http.HandlerFunc(a.serve),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{ClientAuth: tls.RequireAnyClientCert,
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
	}
	go func() {
		if err := a.srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "certrotator dev: demo API: %v\n", err)
		}
	}()
	return a, nil
}

// serve answers 200 when the client certificate's thumbprint is pinned,
// else 403, as an API that pins thumbprints does.
func (a *devAPI) serve(w http.ResponseWriter, r *http.Request) {
	sum := sha1.Sum(r.TLS.PeerCertificates[0].Raw)
	tp := strings.ToUpper(hex.EncodeToString(sum[:]))
	pins, _ := os.ReadFile(a.pinsFile)
	for _, line := range bytes.Split(pins, []byte("\n")) {
		if strings.EqualFold(strings.TrimSpace(string(line)), tp) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"version":"1.0.0","action":"Continue"}`))
			return
		}
	}
	http.Error(w, `{"error":"client certificate `+tp+` is not pinned"}`, http.StatusForbidden)
}

func (a *devAPI) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
}
