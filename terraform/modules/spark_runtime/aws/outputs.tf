output "cluster_name" {
  description = "EKS cluster (spark-submit --master k8s://<endpoint>)."
  value       = aws_eks_cluster.this.name
}

output "endpoint" {
  description = "API server URL."
  value       = aws_eks_cluster.this.endpoint
}

output "ca_certificate" {
  description = "PEM of the cluster CA."
  value       = base64decode(aws_eks_cluster.this.certificate_authority[0].data)
}
