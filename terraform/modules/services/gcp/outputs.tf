output "urls" {
  description = "Service name => URL."
  value       = { for name, s in google_cloud_run_v2_service.this : name => s.uri }
}
