from clipforge_transcribe.main import main

main()
