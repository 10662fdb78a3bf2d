package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stratalog/strata/client"
)

// envSASLPassword is the environment variable of --sasl-password (safer than the flag,
// which other users of the machine can see in the process list).
const envSASLPassword = "STRATA_SASL_PASSWORD"

// securityFlags are the flags of how the client commands reach a secured listener:
// TLS (SSL, SASL_SSL) and SASL (SASL_PLAINTEXT, SASL_SSL).
type securityFlags struct {
	tls       bool
	tlsCA     string
	tlsCert   string
	mechanism string
	user      string
	password  string
}

func (f *securityFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.BoolVar(&f.tls, "tls", false, "connect with TLS (an SSL or SASL_SSL listener); implied by --tls-ca and --tls-cert")
	pf.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of the CA certificates to trust (default: the system's)")
	pf.StringVar(&f.tlsCert, "tls-cert", "", "PEM file with the client's private key and certificate, for mutual TLS")
	pf.StringVar(&f.mechanism, "sasl-mechanism", "", "log in with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (a SASL_PLAINTEXT or SASL_SSL listener)")
	pf.StringVar(&f.user, "sasl-user", "", "SASL user name")
	pf.StringVar(&f.password, "sasl-password", "", "SASL password (env "+envSASLPassword+", preferred)")
}

// options turns the flags into client options.
func (f *securityFlags) options() ([]client.Option, error) {
	var opts []kgo.Opt
	if f.tls || f.tlsCA != "" || f.tlsCert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if f.tlsCA != "" {
			pem, err := os.ReadFile(f.tlsCA)
			if err != nil {
				return nil, usagef("--tls-ca: %v", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, usagef("--tls-ca %s: no PEM certificate in it", f.tlsCA)
			}
		}
		if f.tlsCert != "" {
			pem, err := os.ReadFile(f.tlsCert)
			if err != nil {
				return nil, usagef("--tls-cert: %v", err)
			}
			pair, err := tls.X509KeyPair(pem, pem)
			if err != nil {
				return nil, usagef("--tls-cert %s: want a PEM private key and certificate: %v", f.tlsCert, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if f.mechanism != "" {
		password := f.password
		if password == "" {
			password = os.Getenv(envSASLPassword)
		}
		if f.user == "" || password == "" {
			return nil, usagef("--sasl-mechanism needs --sasl-user and a password (--sasl-password or %s)", envSASLPassword)
		}
		switch m := strings.ToUpper(f.mechanism); m {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: f.user, Pass: password}.AsMechanism()))
		case client.ScramSHA256, client.ScramSHA512:
			a := scram.Auth{User: f.user, Pass: password}
			mech := a.AsSha256Mechanism()
			if m == client.ScramSHA512 {
				mech = a.AsSha512Mechanism()
			}
			opts = append(opts, kgo.SASL(mech))
		default:
			return nil, usagef("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", f.mechanism)
		}
	}
	if len(opts) == 0 {
		return nil, nil
	}
	return []client.Option{client.KgoOptions(opts...)}, nil
}
