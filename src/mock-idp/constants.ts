/** The bridge's mnemonic at the bundled mock, used when ESIA_CLIENT_ID is not set. */
export const MOCK_ESIA_CLIENT_ID = 'ESIABRIDGE'

/** Where the mock's ЕСИА tokens can be verified, relative to its base URL. */
export const MOCK_KEYS_PATH = '/public/keys.json'

/** The certificate of the mock's GOST token key (PEM), for an ИС that chose GOST3410_2012_256 tokens. */
export const MOCK_GOST_CERT_PATH = '/public/gost-token-key.cer'
