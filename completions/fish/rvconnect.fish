# fish completion for rvconnect (rendezvous). Options must match 'rvconnect --help'
# (tests/docs/test_docs_sync.py checks it). Installed in fish/vendor_completions.d.

complete -c rvconnect -f
complete -c rvconnect -s h -l help -d 'Print the help and exit'
complete -c rvconnect -s V -l version -d 'Print the version and exit'
complete -c rvconnect -s c -l config -r -F -d 'Read options from a file of name = value lines'
complete -c rvconnect -l log-level -x -a 'error warn info debug' -d 'Log level (default warn)'
complete -c rvconnect -s s -l server -x -d 'The rendezvous server, HOST:PORT'
complete -c rvconnect -s u -l uuid -x -d 'The hidden server to reach (or as the argument)'
complete -c rvconnect -s l -l listen -x -d 'Accept local TCP connections on [HOST:]PORT and tunnel each'
complete -c rvconnect -l ca-file -r -F -d 'Trust this CA (or self-signed certificate)'
complete -c rvconnect -l pin -x -d 'Require the server key to match this SPKI pin (sha256//BASE64)'
complete -c rvconnect -l server-name -x -a '(__fish_print_hostnames)' -d 'Name the certificate must carry, and SNI'
complete -c rvconnect -l connect-timeout -x -d 'Deadline for connecting and the TLS handshake (default 10)'
