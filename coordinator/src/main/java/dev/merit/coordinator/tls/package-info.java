/**
 * TLS for the coordinator's gRPC and HTTP ports: the certificate chain and key from PEM files
 * ({@link dev.merit.coordinator.tls.ServerTls}), or a self-signed development certificate kept in
 * the data directory ({@link dev.merit.coordinator.tls.DevCertificate}).
 */
package dev.merit.coordinator.tls;
