output "cluster_name" {
  description = "GKE cluster."
  value       = google_container_cluster.this.name
}

output "endpoint" {
  description = "API server URL."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "ca_certificate" {
  description = "PEM of the cluster CA."
  value       = base64decode(google_container_cluster.this.master_auth[0].cluster_ca_certificate)
}
