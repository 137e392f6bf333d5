output "release" {
  description = "Helm release name."
  value       = helm_release.this.name
}

output "api_server_service" {
  description = "In-cluster address of the Airflow API server (UI and REST API); expose it with an ingress or port-forward."
  value       = "http://airflow-api-server.${var.namespace}.svc:8080"
}
