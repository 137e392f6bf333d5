"""Deployment with Terraform: the provider mirror, the terraform binary, the environments and their outputs."""
