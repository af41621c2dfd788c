"""Similar: texts as vectors and the nearest neighbours among them.

``embed`` holds the embedding providers (offline feature hashing, OpenAI);
``vector_store`` searches a table of embeddings with pgvector when the
extension is there and exactly in numpy when it is not. It takes a DB-API
cursor from its caller and never opens a connection of its own.
"""
