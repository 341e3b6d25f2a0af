// Command bigsvc is a benchmark input for sccheck: a small service that links many popular
// modules (cobra, viper, logrus, zap, gRPC, Prometheus), like a typical production Go service.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

var version = "dev"

func main() {
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "bigsvc_requests_total", Help: "Requests served."})
	prometheus.MustRegister(requests)
	root := &cobra.Command{Use: "bigsvc"}
	root.PersistentFlags().String("listen", "127.0.0.1:8080", "HTTP address")
	root.PersistentFlags().String("grpc", "127.0.0.1:9090", "gRPC address")
	_ = viper.BindPFlags(root.PersistentFlags())
	viper.SetEnvPrefix("BIGSVC")
	viper.AutomaticEnv()
	root.AddCommand(&cobra.Command{Use: "version", Run: func(*cobra.Command, []string) { fmt.Println(version) }})
	root.AddCommand(&cobra.Command{Use: "serve", RunE: func(*cobra.Command, []string) error {
		logger, err := zap.NewProduction()
		if err != nil {
			return err
		}
		defer func() { _ = logger.Sync() }()
		logrus.WithField("version", version).Info("starting")
		lis, err := net.Listen("tcp", viper.GetString("grpc"))
		if err != nil {
			return err
		}
		server := grpc.NewServer()
		healthpb.RegisterHealthServer(server, health.NewServer())
		go func() { _ = server.Serve(lis) }()
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.Handler())
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			requests.Inc()
			_, _ = fmt.Fprintln(w, "hello from bigsvc", version)
		})
		logger.Info("listening", zap.String("http", viper.GetString("listen")))
		return http.ListenAndServe(viper.GetString("listen"), mux)
	}})
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
