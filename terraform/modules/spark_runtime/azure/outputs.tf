output "cluster_name" {
  description = "AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "endpoint" {
  description = "API server URL."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].host
  sensitive   = true
}

output "ca_certificate" {
  description = "PEM of the cluster CA."
  value       = base64decode(azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate)
  sensitive   = true
}

output "client_certificate" {
  description = "PEM client certificate of the cluster's admin credentials (for the kubernetes/helm providers)."
  value       = base64decode(azurerm_kubernetes_cluster.this.kube_config[0].client_certificate)
  sensitive   = true
}

output "client_key" {
  description = "PEM client key matching client_certificate."
  value       = base64decode(azurerm_kubernetes_cluster.this.kube_config[0].client_key)
  sensitive   = true
}
