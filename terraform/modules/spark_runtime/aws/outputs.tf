output "application_id" {
  description = "EMR Serverless application to start job runs on."
  value       = aws_emrserverless_application.this.id
}
