// Package sarama tests Strata with Sarama (github.com/IBM/sarama), the Go client Burrow and
// many older services are built on, pinned to old protocol versions (issue 21). It is a
// module of its own so that Sarama stays out of Strata's go.mod; make test runs it
// (the Makefile's sarama target). It holds tests only.
package sarama
