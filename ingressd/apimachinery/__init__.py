"""Kubernetes API machinery, pure: what kube-apiserver does to an object between the wire and the
store (patches, defaulting, field ownership, tables, schemas). No asyncio, no aiohttp; the admin
package is its shell."""
