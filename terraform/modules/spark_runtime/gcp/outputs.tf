output "cluster_name" {
  description = "Dataproc cluster to submit the jobs to."
  value       = google_dataproc_cluster.this.name
}
