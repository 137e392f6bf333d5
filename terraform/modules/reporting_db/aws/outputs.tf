output "host" {
  description = "Private DNS name of the server (MARKETPULSE_POSTGRES__HOST)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "admin_user" {
  description = "Master user (roles and databases are made with it; the app never uses it)."
  value       = aws_db_instance.this.username
}

output "server_ca" {
  description = "Where clients (and the Power BI gateway) get the CA that signed the server certificate."
  value       = "https://truststore.pki.rds.amazonaws.com/${data.aws_region.current.region}/${data.aws_region.current.region}-bundle.pem"
}
