// The one error the credential sources share: the auth/ modules throw it and the forwarding
// paths answer the waiting client with its status.

/** A credential could not be obtained; `status` is what the waiting client is answered. */
export class CredentialError extends Error {
  override name = 'CredentialError';
  constructor(
    message: string,
    readonly status = 500,
  ) {
    super(message);
  }
}
