output "secret_ids" {
  description = "Environment variable (or file) name => Secret Manager secret id (Cloud Run secret_key_ref)."
  value       = { for name, s in google_secret_manager_secret.this : name => s.secret_id }
  depends_on  = [google_secret_manager_secret_version.this, google_secret_manager_secret_iam_member.this]
}
