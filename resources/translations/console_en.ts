<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="fr_FR">
<context>
    <name>AccessHistoryModel</name>
    <message>
        <location filename="../../console/views/access_history.py" line="+193"/>
        <source>Date et heure</source>
        <translation>Date and time</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Action</source>
        <translation>Action</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Mode d&apos;accès</source>
        <translation>Access mode</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Résultat</source>
        <translation>Result</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Documents</source>
        <translation>Documents</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Détail</source>
        <translation>Detail</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Source</source>
        <translation>Source</translation>
    </message>
    <message>
        <location line="+45"/>
        <source>Épisode : {text}</source>
        <translation>Episode: {text}</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Normal</source>
        <translation>Normal</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Bris de glace</source>
        <translation>Break-glass</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Centre 15</source>
        <translation>Centre 15</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Recherche</source>
        <translation>Search</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Lecture des métadonnées</source>
        <translation>Metadata read</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Lecture du document</source>
        <translation>Document read</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Ouverture du dossier</source>
        <translation>Record opened</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin d&apos;accès au dossier</source>
        <translation>Record access ended</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Début du bris de glace</source>
        <translation>Break-glass started</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin du bris de glace</source>
        <translation>Break-glass ended</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Dépôt de document</source>
        <translation>Document deposit</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Modification de document</source>
        <translation>Document update</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Dossier ouvert</source>
        <translation>Record opened</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Accès refusé</source>
        <translation>Access refused</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Bris de glace démarré</source>
        <translation>Break-glass started</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Accès centre 15 démarré</source>
        <translation>Centre 15 access started</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Document ouvert</source>
        <translation>Document opened</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Bris de glace terminé</source>
        <translation>Break-glass ended</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Accès centre 15 terminé</source>
        <translation>Centre 15 access ended</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Dossier fermé</source>
        <translation>Record closed</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Attestation produite</source>
        <translation>Attestation issued</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>DMP (serveur)</source>
        <translation>DMP (server)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Journal de ce poste</source>
        <translation>This computer&apos;s journal</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>Effectué</source>
        <translation>Done</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Refusé</source>
        <translation>Refused</translation>
    </message>
    <message>
        <location line="+19"/>
        <source>Liste des documents</source>
        <translation>Document list</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Contenu d&apos;un document</source>
        <translation>Document content</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Identification du patient</source>
        <translation>Patient identification</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Vaccinations</source>
        <translation>Vaccinations</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Entourage</source>
        <translation>Relatives</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Volontés et directives</source>
        <translation>Wishes and directives</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Historique des accès</source>
        <translation>Access history</translation>
    </message>
    <message>
        <location line="+14"/>
        <source>{mode} (en cours ou non clos)</source>
        <translation>{mode} (in progress or not closed)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>{mode} jusqu&apos;à {time} ({duration})</source>
        <translation>{mode} until {time} ({duration})</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>{n} document(s) consulté(s)</source>
        <translation>{n} document(s) consulted</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Épisode {id}</source>
        <translation>Episode {id}</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Fin : {code}</source>
        <translation>End: {code}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Fin : arrêté par le professionnel</source>
        <translation>End: stopped by the professional</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin : durée écoulée</source>
        <translation>End: time elapsed</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin : carte retirée</source>
        <translation>End: card removed</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin : dossier fermé</source>
        <translation>End: record closed</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin : application quittée</source>
        <translation>End: application closed</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin : session verrouillée</source>
        <translation>End: session locked</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Fin : déconnexion</source>
        <translation>End: logged out</translation>
    </message>
</context>
<context>
    <name>AccessHistoryView</name>
    <message>
        <location line="+25"/>
        <source>Historique de vos accès à ce dossier</source>
        <translation>History of your accesses to this record</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Filtrer l&apos;historique</source>
        <translation>Filter the history</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Tout l&apos;historique</source>
        <translation>The whole history</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Bris de glace et centre 15</source>
        <translation>Break-glass and centre 15</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Traces du DMP (serveur)</source>
        <translation>DMP traces (server)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Journal de ce poste</source>
        <translation>This computer&apos;s journal</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Actualiser</source>
        <translation>Refresh</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Historique des accès</source>
        <translation>Access history</translation>
    </message>
    <message>
        <location line="+54"/>
        <source>Chargement de l&apos;historique…</source>
        <translation>Loading the history…</translation>
    </message>
    <message>
        <location line="+32"/>
        <source>Historique indisponible : {reason}</source>
        <translation>History unavailable: {reason}</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>Traces du DMP indisponibles ({reason}) : seul le journal de ce poste est affiché.</source>
        <translation>DMP traces unavailable ({reason}): only this computer&apos;s journal is shown.</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>{entries} action(s), dont {episodes} accès d&apos;urgence.</source>
        <translation>{entries} action(s), including {episodes} emergency access(es).</translation>
    </message>
</context>
<context>
    <name>AccessModeDialog</name>
    <message>
        <location filename="../../console/views/consent.py" line="+117"/>
        <source>Mode d&apos;accès au DMP</source>
        <translation>DMP access mode</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Ouvrir le DMP de {patient} :</source>
        <translation>Open the DMP of {patient}:</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Accès normal (patient suivi ou consentant)</source>
        <translation>Normal access (patient in your care or consenting)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Bris de glace (situation d&apos;urgence)</source>
        <translation>Break-glass (emergency)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Centre 15 (médecin régulateur du SAMU)</source>
        <translation>Centre 15 (SAMU regulating doctor)</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Motif du bris de glace</source>
        <translation>Break-glass reason</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>— Choisissez un motif —</source>
        <translation>— Choose a reason —</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>{label} (code {code})</source>
        <translation>{label} (code {code})</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Justification du bris de glace</source>
        <translation>Break-glass justification</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Décrivez la situation qui justifie l&apos;accès (au moins {n} caractères).</source>
        <translation>Describe the situation that justifies the access (at least {n} characters).</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Le patient sera informé de cet accès en bris de glace. L&apos;accès est limité à {minutes} minutes, chaque consultation est tracée et votre motif est conservé ; une attestation vous est remise à la fin.</source>
        <translation>The patient will be notified of this break-glass access. Access is limited to {minutes} minutes, every consultation is traced and your reason is kept; you receive an attestation at the end.</translation>
    </message>
    <message>
        <location line="+21"/>
        <source>Réservé aux médecins régulateurs d&apos;un centre 15 : le DMP refuse cet accès aux autres professionnels. Le patient sera informé de cet accès.</source>
        <translation>Reserved for the regulating doctors of a centre 15: the DMP refuses this access to other professionals. The patient will be notified of this access.</translation>
    </message>
    <message>
        <location line="-9"/>
        <source>Motif :</source>
        <translation>Reason:</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Justification :</source>
        <translation>Justification:</translation>
    </message>
    <message>
        <location line="+16"/>
        <location line="+109"/>
        <source>Ouvrir le dossier</source>
        <translation>Open the record</translation>
    </message>
    <message>
        <location line="-108"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+69"/>
        <source>{count} caractère(s) hors espaces sur {n} au minimum</source>
        <translation>{count} non-space character(s) of at least {n}</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>{count} caractères hors espaces (minimum {n} atteint ; {max} au plus)</source>
        <translation>{count} non-space characters (minimum of {n} reached; {max} at most)</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>un motif</source>
        <translation>a reason</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>une justification ({count}/{n} caractères)</source>
        <translation>a justification ({count}/{n} characters)</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Il manque : {what}.</source>
        <translation>Missing: {what}.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Ouvrir en bris de glace</source>
        <translation>Open in break-glass mode</translation>
    </message>
</context>
<context>
    <name>AttestationsDialog</name>
    <message>
        <location filename="../../console/views/attestations.py" line="+53"/>
        <source>Attestations de bris de glace</source>
        <translation>Break-glass attestations</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Chaque bris de glace donne une attestation. Elle reste chiffrée dans votre cache, lisible avec votre carte seulement, jusqu&apos;à ce que vous l&apos;enregistriez.</source>
        <translation>Every break-glass access produces an attestation. It stays encrypted in your cache, readable with your card only, until you save it.</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Fin</source>
        <translation>End</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Patient</source>
        <translation>Patient</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>INS</source>
        <translation>INS</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Durée</source>
        <translation>Duration</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Motif de fin</source>
        <translation>Reason for ending</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Enregistrée</source>
        <translation>Saved</translation>
    </message>
    <message>
        <location line="+15"/>
        <source>&amp;Enregistrer…</source>
        <translation>&amp;Save…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Fermer</source>
        <translation>Close</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>Lecture…</source>
        <translation>Reading…</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>non</source>
        <translation>no</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>%1 attestation(s), dont %2 à enregistrer.</source>
        <translation>%1 attestation(s), %2 still to save.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Aucune attestation dans votre cache.</source>
        <translation>No attestation in your cache.</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Enregistrer l&apos;attestation de bris de glace</source>
        <translation>Save the break-glass attestation</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document PDF (*.pdf)</source>
        <translation>PDF document (*.pdf)</translation>
    </message>
    <message>
        <location line="+25"/>
        <source>Attestation non enregistrée : {error}</source>
        <translation>Attestation not saved: {error}</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Attestation enregistrée : {path}</source>
        <translation>Attestation saved: {path}</translation>
    </message>
</context>
<context>
    <name>BatchDepositView</name>
    <message>
        <location filename="../../console/views/batch_deposit.py" line="+414"/>
        <source>Identification…</source>
        <translation>Identifying…</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Identifiant national du médecin (8 + RPPS)</source>
        <translation>National identifier of the doctor (8 + RPPS)</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Nom du médecin (pour mémoire)</source>
        <translation>Doctor&apos;s name (for reference)</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Reprendre l&apos;envoi</source>
        <translation>Resume sending</translation>
    </message>
    <message>
        <location line="+26"/>
        <source>Déposez ici des documents, un dossier ou un manifeste CSV.</source>
        <translation>Drop documents, a folder or a CSV manifest here.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Ajouter un dossier…</source>
        <translation>Add a folder…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Charger un manifeste CSV…</source>
        <translation>Load a CSV manifest…</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Sans manifeste, les informations sont lues dans le nom du fichier : {rule} (ex. 255081416802538_11488-4_20250620_Compte_rendu.pdf).</source>
        <translation>Without a manifest, the details are read from the file name: {rule} (e.g. 255081416802538_11488-4_20250620_Compte_rendu.pdf).</translation>
    </message>
    <message>
        <location line="+47"/>
        <source>Retirer la sélection</source>
        <translation>Remove the selection</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Vérifier le lot</source>
        <translation>Check the batch</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+346"/>
        <source>Déposer le lot</source>
        <translation>Deposit the batch</translation>
    </message>
    <message>
        <location line="-344"/>
        <source>Pause</source>
        <translation>Pause</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Reprendre</source>
        <translation>Resume</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Annuler l&apos;envoi</source>
        <translation>Cancel sending</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Enregistrer l&apos;accusé (PDF)…</source>
        <translation>Save the receipt (PDF)…</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>%v / %m</source>
        <translation>%v / %m</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Pour le compte de :</source>
        <translation>On behalf of:</translation>
    </message>
    <message>
        <location line="+69"/>
        <source>Identité du déposant inconnue : {reason}</source>
        <translation>Depositor&apos;s identity unknown: {reason}</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Saisi par : {name} — {structure}</source>
        <translation>Entered by: {name} — {structure}</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Vous déposez en votre nom (vous êtes l&apos;auteur).</source>
        <translation>You deposit in your own name (you are the author).</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Aucun cache chiffré n&apos;est ouvert : la file d&apos;envoi est en mémoire. Un arrêt de la console pendant l&apos;envoi la perdrait ; vérifiez l&apos;accusé avant de fermer.</source>
        <translation>No encrypted cache is open: the sending queue is in memory. Stopping the console while sending would lose it; check the receipt before closing.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>{n} dépôt(s) d&apos;une session précédente n&apos;ont pas été confirmés par le DMP. Ils seront renvoyés avec le même identifiant : le DMP n&apos;en gardera qu&apos;un exemplaire.</source>
        <translation>{n} deposit(s) from a previous session were not confirmed by the DMP. They will be sent again with the same identifier: the DMP will keep only one copy.</translation>
    </message>
    <message>
        <location line="+113"/>
        <source>Les documents seront déposés pour le compte de {doctor}.</source>
        <translation>The documents will be deposited on behalf of {doctor}.</translation>
    </message>
    <message>
        <location line="-59"/>
        <location line="+90"/>
        <source>{n} fichier(s) ajouté(s) : vérifiez le lot.</source>
        <translation>{n} file(s) added: check the batch.</translation>
    </message>
    <message>
        <location line="-342"/>
        <source>Les ajouter à nouveau</source>
        <translation>Add them again</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Ne pas les ajouter</source>
        <translation>Do not add them</translation>
    </message>
    <message>
        <location line="+69"/>
        <source>Déposer quand même</source>
        <translation>Deposit anyway</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Les lignes choisies, signalées comme déjà déposées, sont de vraies nouvelles versions : elles seront déposées.</source>
        <translation>The selected rows, flagged as already deposited, are real new versions: they will be deposited.</translation>
    </message>
    <message>
        <location line="+140"/>
        <source> et {n} autre(s)</source>
        <translation> and {n} other(s)</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>La console s&apos;est arrêtée pendant la mise en file du lot du {date} à {time} : {n} fichier(s) n&apos;ont jamais été mis en file ni envoyés : {names}.</source>
        <translation>The console stopped while the batch of {date} at {time} was being queued: {n} file(s) were never queued nor sent: {names}.</translation>
    </message>
    <message>
        <location line="+23"/>
        <source>{n} fichier(s) ajouté(s) ; {gone} introuvable(s) sur le disque : {names}.</source>
        <translation>{n} file(s) added; {gone} not found on disk: {names}.</translation>
    </message>
    <message>
        <location line="+30"/>
        <source>Choisissez les lignes signalées comme déjà déposées.</source>
        <translation>Choose the rows flagged as already deposited.</translation>
    </message>
    <message>
        <location line="+73"/>
        <source>Choisir un dossier de documents</source>
        <translation>Choose a folder of documents</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Choisir le manifeste CSV</source>
        <translation>Choose the CSV manifest</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Manifestes CSV (*.csv)</source>
        <translation>CSV manifests (*.csv)</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>Manifeste : {n} ligne(s) lue(s).</source>
        <translation>Manifest: {n} line(s) read.</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Vérification du lot…</source>
        <translation>Checking the batch…</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>{ready} document(s) prêt(s), {invalid} refusé(s) à la vérification : corrigez-les ou retirez-les ; les autres peuvent partir.</source>
        <translation>{ready} document(s) ready, {invalid} refused by the check: correct or remove them; the others can go.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>{ready} document(s) prêt(s) à déposer.</source>
        <translation>{ready} document(s) ready to deposit.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>Indiquez le médecin pour le compte duquel vous déposez.</source>
        <translation>Enter the doctor on whose behalf you deposit.</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Déposer {n} document(s) dans le DMP pour le compte de {doctor} ?</source>
        <translation>Deposit {n} document(s) in the DMP on behalf of {doctor}?</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Déposer</source>
        <translation>Deposit</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Mise en file d&apos;attente du lot…</source>
        <translation>Queuing the batch…</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Dépôt refusé : {reason}</source>
        <translation>Deposit refused: {reason}</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Mise en pause : les envois en cours se terminent…</source>
        <translation>Pausing: the requests in progress are finishing…</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Reprise de l&apos;envoi…</source>
        <translation>Resuming sending…</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Annulation : les envois en cours se terminent…</source>
        <translation>Cancelling: the requests in progress are finishing…</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>{n} document(s) retiré(s) de la file.</source>
        <translation>{n} document(s) removed from the queue.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Envoi terminé : {sent} déposé(s), {refused} refusé(s).</source>
        <translation>Sending finished: {sent} deposited, {refused} refused.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>En pause : {n} document(s) en attente.</source>
        <translation>Paused: {n} document(s) waiting.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Envoi annulé.</source>
        <translation>Sending cancelled.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Session expirée : reconnectez-vous puis reprenez l&apos;envoi ({reason}).</source>
        <translation>Session expired: log in again, then resume sending ({reason}).</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le DMP refuse les dépôts pour ce médecin : {reason}</source>
        <translation>The DMP refuses deposits for this doctor: {reason}</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Session verrouillée : les documents restent en file ; reprenez après reconnexion.</source>
        <translation>Session locked: the documents stay queued; resume after logging in again.</translation>
    </message>
    <message>
        <location line="+14"/>
        <source>L&apos;accusé n&apos;a pas pu être écrit : {reason}</source>
        <translation>The receipt could not be written: {reason}</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Accusé enregistré : {path}</source>
        <translation>Receipt saved: {path}</translation>
    </message>
    <message>
        <location line="+31"/>
        <source>Déposés : {sent} — refusés : {refused} — en attente : {waiting} — refusés à la vérification : {invalid}</source>
        <translation>Deposited: {sent} — refused: {refused} — waiting: {waiting} — refused by the check: {invalid}</translation>
    </message>
</context>
<context>
    <name>BatchTableModel</name>
    <message>
        <location line="-818"/>
        <source>Fichier</source>
        <translation>File</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>INS du patient</source>
        <translation>Patient INS</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Type</source>
        <translation>Type</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Titre</source>
        <translation>Title</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Date de l&apos;acte</source>
        <translation>Date of the act</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Masqué</source>
        <translation>Masked</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Inv. patient</source>
        <translation>Hidden from patient</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Inv. repr.</source>
        <translation>Hidden from guardians</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Statut</source>
        <translation>Status</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Message</source>
        <translation>Message</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Masqué aux professionnels de santé</source>
        <translation>Masked from healthcare professionals</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Non visible par le patient</source>
        <translation>Not visible to the patient</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Non visible par les représentants légaux</source>
        <translation>Not visible to the legal representatives</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>À vérifier</source>
        <translation>To check</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Refusé (vérification)</source>
        <translation>Refused (check)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Prêt</source>
        <translation>Ready</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>En file d&apos;attente</source>
        <translation>Queued</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Envoi en cours</source>
        <translation>Sending</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Nouvel essai programmé</source>
        <translation>Retry scheduled</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Déposé</source>
        <translation>Deposited</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Refusé par le DMP</source>
        <translation>Refused by the DMP</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Annulé (non envoyé)</source>
        <translation>Cancelled (not sent)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>En attente de reprise</source>
        <translation>Waiting to resume</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>nouvel essai à {time} (tentative {n})</source>
        <translation>retry at {time} (attempt {n})</translation>
    </message>
    <message>
        <location line="+47"/>
        <source>Référence du dépôt : {master}</source>
        <translation>Deposit reference: {master}</translation>
    </message>
</context>
<context>
    <name>CardTableModel</name>
    <message>
        <location filename="../../console/views/login.py" line="+301"/>
        <source>Titulaire</source>
        <translation>Holder</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Profession</source>
        <translation>Profession</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Carte</source>
        <translation>Card</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Code PIN</source>
        <translation>PIN</translation>
    </message>
    <message>
        <location line="+34"/>
        <source>Carte illisible</source>
        <translation>Unreadable card</translation>
    </message>
</context>
<context>
    <name>ConsentDialog</name>
    <message>
        <location filename="../../console/views/consent.py" line="+20"/>
        <source>Consentement du patient</source>
        <translation>Patient&apos;s consent</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Vous ne faites pas partie de l&apos;équipe de soins de ce patient.</source>
        <translation>You are not part of this patient&apos;s care team.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Le patient consent-il à ce que vous accédiez à son DMP ?</source>
        <translation>Does the patient consent to your accessing their DMP?</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Recueilli par :</source>
        <translation>Collected:</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Oui, le patient consent</source>
        <translation>Yes, the patient consents</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Non</source>
        <translation>No</translation>
    </message>
</context>
<context>
    <name>DepositDialog</name>
    <message>
        <location filename="../../console/views/deposit_dialog.py" line="+381"/>
        <source>Remplacer un document du DMP</source>
        <translation>Replace a document of the DMP</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Déposer un document dans le DMP</source>
        <translation>Deposit a document in the DMP</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Déposez ici un fichier PDF, CDA R2 (.xml) ou texte (.txt).</source>
        <translation>Drop a PDF, CDA R2 (.xml) or text (.txt) file here.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Aucun fichier choisi.</source>
        <translation>No file chosen.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>NIR du patient (15 caractères)</source>
        <translation>Patient&apos;s NIR (15 characters)</translation>
    </message>
    <message>
        <location line="+24"/>
        <source>Masqué aux professionnels de santé (MASQUE_PS)</source>
        <translation>Masked from healthcare professionals (MASQUE_PS)</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Non visible par le patient (jusqu&apos;à la consultation d&apos;annonce)</source>
        <translation>Not visible to the patient (until the disclosure consultation)</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Non visible par les représentants légaux</source>
        <translation>Not visible to the legal representatives</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Patient (INS) :</source>
        <translation>Patient (INS):</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Type de document :</source>
        <translation>Document type:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Titre :</source>
        <translation>Title:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Date de l&apos;acte :</source>
        <translation>Date of the act:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Auteur :</source>
        <translation>Author:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Structure :</source>
        <translation>Organisation:</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Visibilité :</source>
        <translation>Visibility:</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Déposer</source>
        <translation>Deposit</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Enregistrer l&apos;accusé (PDF)…</source>
        <translation>Save the receipt (PDF)…</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+71"/>
        <source>Aucun cache chiffré n&apos;est ouvert : si la console s&apos;arrête avant la réponse du DMP, ce dépôt ne sera pas conservé pour être renvoyé. Vérifiez ensuite sa présence dans le dossier.</source>
        <translation>No encrypted cache is open: if the console stops before the DMP answers, this deposit will not be kept to be sent again. Then check that it is in the record.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>Structure inconnue ({reason})</source>
        <translation>Unknown organisation ({reason})</translation>
    </message>
    <message>
        <location line="+14"/>
        <source>Lecture de « {name} »…</source>
        <translation>Reading “{name}”…</translation>
    </message>
    <message>
        <location line="+14"/>
        <source>PDF</source>
        <translation>PDF</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>CDA R2 (XML)</source>
        <translation>CDA R2 (XML)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>texte</source>
        <translation>text</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>non reconnu</source>
        <translation>not recognised</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Fichier : {name} — {size} — {kind}</source>
        <translation>File: {name} — {size} — {kind}</translation>
    </message>
    <message>
        <location line="+65"/>
        <source>Envoi au DMP…</source>
        <translation>Sending to the DMP…</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Dépôt impossible : corrigez les points signalés.</source>
        <translation>Deposit impossible: correct the points reported.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Dépôt refusé : {reason}</source>
        <translation>Deposit refused: {reason}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Dépôt impossible : {reason}</source>
        <translation>Deposit impossible: {reason}</translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Fermer</source>
        <translation>Close</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Document déposé dans le DMP.</source>
        <translation>Document deposited in the DMP.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Document déjà présent dans le DMP (dépôt déjà reçu) : rien n&apos;a été dupliqué.</source>
        <translation>Document already in the DMP (deposit already received): nothing was duplicated.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Référence du dépôt : {master}
Identifiant DMP : {id}</source>
        <translation>Deposit reference: {master}
DMP identifier: {id}</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Il est conservé dans le cache chiffré et sera renvoyé automatiquement.</source>
        <translation>It is kept in the encrypted cache and will be sent again automatically.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Il n&apos;est conservé que tant que la console reste ouverte : ne la fermez pas avant son envoi.</source>
        <translation>It is kept only while the console stays open: do not close it before it is sent.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Le DMP n&apos;a pas encore confirmé ce dépôt ({reason}). {kept}</source>
        <translation>The DMP has not confirmed this deposit yet ({reason}). {kept}</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>pas de réponse</source>
        <translation>no answer</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Référence du dépôt : {master}</source>
        <translation>Deposit reference: {master}</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Accusé de dépôt</source>
        <translation>Deposit receipt</translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Accusé non enregistré</source>
        <translation>Receipt not saved</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>L&apos;accusé n&apos;a pas pu être écrit : {reason}</source>
        <translation>The receipt could not be written: {reason}</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Accusé enregistré : {path}</source>
        <translation>Receipt saved: {path}</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Envoi en cours : attendez la réponse du DMP avant de fermer.</source>
        <translation>Sending: wait for the DMP&apos;s answer before closing.</translation>
    </message>
</context>
<context>
    <name>DepositReceipt</name>
    <message>
        <location line="-439"/>
        <source>Enregistrer l&apos;accusé de dépôt</source>
        <translation>Save the deposit receipt</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Document PDF (*.pdf)</source>
        <translation>PDF document (*.pdf)</translation>
    </message>
</context>
<context>
    <name>DocumentActionTexts</name>
    <message>
        <location filename="../../console/views/document_actions.py" line="+92"/>
        <source>Remplacer par une nouvelle version…</source>
        <translation>Replace with a new version…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Masquer aux professionnels (demande du patient)…</source>
        <translation>Mask from professionals (patient&apos;s request)…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Ne plus masquer aux professionnels…</source>
        <translation>Stop masking from professionals…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Rendre visible au patient (après la consultation d&apos;annonce)…</source>
        <translation>Make visible to the patient (after the disclosure consultation)…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Rendre invisible au patient…</source>
        <translation>Make invisible to the patient…</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Supprimer (erreur de saisie)…</source>
        <translation>Delete (entry error)…</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Masquer « {title} » aux autres professionnels de santé ?

À la demande du patient, le document ne sera plus visible que par vous, son médecin traitant et en cas d&apos;accès en bris de glace.</source>
        <translation>Mask “{title}” from the other healthcare professionals?

At the patient&apos;s request, the document will only be visible to you, their GP and in break-glass access.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Rendre « {title} » de nouveau visible aux professionnels de santé autorisés ?</source>
        <translation>Make “{title}” visible again to the authorised healthcare professionals?</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Rendre « {title} » visible au patient ?

À faire après la consultation d&apos;annonce : le patient pourra le lire dans Mon espace santé.</source>
        <translation>Make “{title}” visible to the patient?

To do after the disclosure consultation: the patient will be able to read it in Mon espace santé.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Rendre « {title} » invisible au patient (jusqu&apos;à la consultation d&apos;annonce) ?</source>
        <translation>Make “{title}” invisible to the patient (until the disclosure consultation)?</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Supprimer « {title} » du DMP (erreur de saisie) ?

Le document ne sera plus listé pour personne. Cette action est définitive.</source>
        <translation>Delete “{title}” from the DMP (entry error)?

The document will no longer be listed for anyone. This action is final.</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Masquer</source>
        <translation>Mask</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Ne plus masquer</source>
        <translation>Stop masking</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Rendre visible</source>
        <translation>Make visible</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Rendre invisible</source>
        <translation>Make invisible</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Supprimer</source>
        <translation>Delete</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Confirmer</source>
        <translation>Confirm</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Action refusée</source>
        <translation>Action refused</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Action impossible</source>
        <translation>Action impossible</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Document masqué aux professionnels.</source>
        <translation>Document masked from professionals.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Document de nouveau visible aux professionnels.</source>
        <translation>Document visible to professionals again.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Document visible au patient.</source>
        <translation>Document visible to the patient.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Document invisible au patient.</source>
        <translation>Document invisible to the patient.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Document supprimé du DMP.</source>
        <translation>Document deleted from the DMP.</translation>
    </message>
</context>
<context>
    <name>DocumentTableModel</name>
    <message>
        <location filename="../../console/views/document_model.py" line="+282"/>
        <source>Date de l&apos;acte</source>
        <translation>Date of the act</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Déposé le</source>
        <translation>Deposited on</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Type</source>
        <translation>Type</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Classe</source>
        <translation>Class</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Titre</source>
        <translation>Title</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Auteur</source>
        <translation>Author</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Profession</source>
        <translation>Profession</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Structure</source>
        <translation>Organisation</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Visibilité</source>
        <translation>Visibility</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Statut</source>
        <translation>Status</translation>
    </message>
    <message>
        <location line="+43"/>
        <source>Masqué</source>
        <translation>Masked</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Invisible patient</source>
        <translation>Invisible to the patient</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Invisible représentants</source>
        <translation>Invisible to legal representatives</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Nouveau</source>
        <translation>New</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Archivé</source>
        <translation>Archived</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>En vigueur</source>
        <translation>Current</translation>
    </message>
    <message>
        <location line="+30"/>
        <source>Acte du {act}, déposé le {deposit}</source>
        <translation>Act of {act}, deposited on {deposit}</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Déposé depuis votre dernière consultation de ce dossier</source>
        <translation>Deposited since you last opened this record</translation>
    </message>
</context>
<context>
    <name>DocumentTypePicker</name>
    <message>
        <location filename="../../console/views/deposit_dialog.py" line="-145"/>
        <source>Rechercher un type (libellé ou code, ex. « consultation », « 11488 »)</source>
        <translation>Search for a type (label or code, e.g. “consultation”, “11488”)</translation>
    </message>
    <message>
        <location line="+67"/>
        <source>Aucun type choisi.</source>
        <translation>No type chosen.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Type choisi : {label} ({code}) — classe {klass}</source>
        <translation>Type chosen: {label} ({code}) — class {klass}</translation>
    </message>
</context>
<context>
    <name>DossierHeader</name>
    <message>
        <location filename="../../console/views/dossier_header.py" line="+151"/>
        <source>Médecin traitant : recherche…</source>
        <translation>Regular doctor: looking up…</translation>
    </message>
    <message>
        <location line="+32"/>
        <source>Né(e) le %1 (%2 ans)</source>
        <translation>Born on %1 (%2 years old)</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Date de naissance non renseignée</source>
        <translation>Date of birth not recorded</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>INS : %1</source>
        <translation>INS: %1</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Médecin traitant : non renseigné</source>
        <translation>Regular doctor: not recorded</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Médecin traitant : %1 (vous)</source>
        <translation>Regular doctor: %1 (you)</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Médecin traitant : %1</source>
        <translation>Regular doctor: %1</translation>
    </message>
    <message>
        <location line="-156"/>
        <source>Hors ligne (lecture seule)</source>
        <translation>Offline (read-only)</translation>
    </message>
    <message>
        <location line="+162"/>
        <source>Documents lus dans le cache chiffré de ce poste</source>
        <translation>Documents read from this computer&apos;s encrypted cache</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Vous êtes le médecin traitant déclaré de ce patient.</source>
        <translation>You are this patient&apos;s declared regular doctor.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Les documents masqués aux professionnels vous sont visibles, en tant que médecin traitant.</source>
        <translation>Documents masked from professionals are visible to you, as the regular doctor.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Accès en bris de glace : les documents masqués aux professionnels vous sont visibles.</source>
        <translation>Break-glass access: documents masked from professionals are visible to you.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Le patient est informé de cet accès en bris de glace ; tout ce que vous consultez est tracé.</source>
        <translation>The patient is notified of this break-glass access; everything you consult is traced.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Le patient est informé de cet accès par le centre de régulation.</source>
        <translation>The patient is notified of this access by the regulation centre.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>En mode centre 15, les documents masqués restent invisibles.</source>
        <translation>In centre 15 mode, masked documents stay invisible.</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Médecin traitant : information indisponible</source>
        <translation>Regular doctor: information unavailable</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Femme</source>
        <translation>Female</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Homme</source>
        <translation>Male</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Sexe non précisé</source>
        <translation>Sex not specified</translation>
    </message>
    <message>
        <location line="-210"/>
        <source>Accès normal</source>
        <translation>Normal access</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>BRIS DE GLACE</source>
        <translation>BREAK-GLASS</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Centre 15 (régulation)</source>
        <translation>Centre 15 (regulation)</translation>
    </message>
    <message>
        <location line="+214"/>
        <source>Session d&apos;accès jusqu&apos;à %1</source>
        <translation>Access session until %1</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Accès limité jusqu&apos;à %1</source>
        <translation>Access limited until %1</translation>
    </message>
</context>
<context>
    <name>DossierView</name>
    <message>
        <location filename="../../console/views/dossier_view.py" line="+394"/>
        <source>Fermer le dossier</source>
        <translation>Close the record</translation>
    </message>
    <message>
        <location line="+40"/>
        <location line="+589"/>
        <location line="+10"/>
        <source>2 dernières années</source>
        <translation>Last 2 years</translation>
    </message>
    <message>
        <location line="-593"/>
        <source>Retirer ce filtre : afficher tout l&apos;historique du patient</source>
        <translation>Remove this filter: show the patient&apos;s whole history</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Retirer le filtre 2 dernières années</source>
        <translation>Remove the last-2-years filter</translation>
    </message>
    <message>
        <location line="+17"/>
        <source>Chargement…</source>
        <translation>Loading…</translation>
    </message>
    <message>
        <location line="+33"/>
        <source>Documents du patient</source>
        <translation>Patient&apos;s documents</translation>
    </message>
    <message>
        <location line="+534"/>
        <source>Règle du DMP : à la première ouverture, seuls les documents des deux dernières années sont listés (depuis le {start}).</source>
        <translation>DMP rule: at the first opening, only the documents of the last two years are listed (since {start}).</translation>
    </message>
    <message>
        <location line="-35"/>
        <source>Date de naissance inconnue</source>
        <translation>Date of birth unknown</translation>
    </message>
    <message>
        <location line="-430"/>
        <source>Documents</source>
        <translation>Documents</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Vaccinations</source>
        <translation>Vaccinations</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Entourage et volontés</source>
        <translation>Relatives and wishes</translation>
    </message>
    <message>
        <location line="+61"/>
        <source>Masqué — révélé par le bris de glace</source>
        <translation>Masked — revealed by break-glass</translation>
    </message>
    <message>
        <location line="+52"/>
        <source>Actualisation impossible : {reason}</source>
        <translation>Refresh failed: {reason}</translation>
    </message>
    <message>
        <location line="+154"/>
        <source>Session verrouillée : reconnectez-vous avec votre carte.</source>
        <translation>Session locked: sign in again with your card.</translation>
    </message>
    <message>
        <location line="+26"/>
        <source>Document remplacé : la liste est mise à jour.</source>
        <translation>Document replaced: the list is being updated.</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>Document masqué aux professionnels.</source>
        <translation>Document masked from professionals.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document de nouveau visible aux professionnels.</source>
        <translation>Document visible to professionals again.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document visible au patient.</source>
        <translation>Document visible to the patient.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document invisible au patient.</source>
        <translation>Document invisible to the patient.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document supprimé du DMP.</source>
        <translation>Document deleted from the DMP.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document mis à jour.</source>
        <translation>Document updated.</translation>
    </message>
    <message>
        <location line="+86"/>
        <source>Disposition par défaut</source>
        <translation>Default layout</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>Née le {date}</source>
        <translation>Born on {date}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Né le {date}</source>
        <translation>Born on {date}</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>INS {ins}</source>
        <translation>INS {ins}</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Accès d&apos;urgence jusqu&apos;à {time} : le patient en sera informé, chaque consultation est tracée.</source>
        <translation>Emergency access until {time}: the patient will be informed, every view is logged.</translation>
    </message>
    <message>
        <location line="+25"/>
        <source>Règle du DMP : les documents connus depuis votre première consultation couvrent les deux dernières années ; seuls les dépôts depuis votre dernière consultation ({since}) ont été recherchés.</source>
        <translation>DMP rule: the documents known since you first opened this record cover the last two years; only the deposits made since you last opened it ({since}) were searched.</translation>
    </message>
    <message>
        <location line="+58"/>
        <source>Liste incomplète : {reason}</source>
        <translation>Incomplete list: {reason}</translation>
    </message>
    <message>
        <location line="+62"/>
        <source>{shown} document sur {total}</source>
        <translation>{shown} document of {total}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{shown} documents sur {total}</source>
        <translation>{shown} documents of {total}</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Aucun document</source>
        <translation>No document</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>1 document</source>
        <translation>1 document</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{count} documents</source>
        <translation>{count} documents</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{text} (au moins {total} annoncés)</source>
        <translation>{text} (at least {total} announced)</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>Le document de ce dossier ne correspond pas aux filtres.</source>
        <translation>The record&apos;s only document does not match the filters.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Aucun des {total} documents ne correspond aux filtres.</source>
        <translation>None of the {total} documents matches the filters.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Effacer les filtres</source>
        <translation>Clear the filters</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Aucun document des deux dernières années.</source>
        <translation>No document from the last two years.</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Voir tout l&apos;historique</source>
        <translation>Show the whole history</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Hors ligne : la liste gardée sur ce poste</source>
        <translation>Offline: the list kept on this computer</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Rien de nouveau depuis le {since}</source>
        <translation>Nothing new since {since}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>1 nouveau document depuis le {since}</source>
        <translation>1 new document since {since}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{count} nouveaux documents depuis le {since}</source>
        <translation>{count} new documents since {since}</translation>
    </message>
</context>
<context>
    <name>EcpsWaitDialog</name>
    <message>
        <location filename="../../console/views/ecps.py" line="+80"/>
        <source>Connexion e-CPS</source>
        <translation>e-CPS sign-in</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Envoi de la demande de connexion à l&apos;application e-CPS de %1…</source>
        <translation>Sending the sign-in request to the e-CPS app of %1…</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Validez la demande dans l&apos;application e-CPS de votre téléphone, après avoir vérifié qu&apos;elle affiche ce code :</source>
        <translation>Approve the request in the e-CPS app on your phone, after checking that it shows this code:</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Si le code du téléphone est différent, refusez la demande sur le téléphone.</source>
        <translation>If the phone shows another code, refuse the request on the phone.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+39"/>
        <source>Demande envoyée à l&apos;application e-CPS de %1.</source>
        <translation>Request sent to the e-CPS app of %1.</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>La demande expire dans %1.</source>
        <translation>The request expires in %1.</translation>
    </message>
</context>
<context>
    <name>EmergencyBanner</name>
    <message>
        <location filename="../../console/views/emergency_banner.py" line="+107"/>
        <source>Avertissement</source>
        <translation>Warning</translation>
    </message>
    <message>
        <location line="+8"/>
        <location line="+60"/>
        <source>Arrêter le bris de glace</source>
        <translation>Stop break-glass</translation>
    </message>
    <message>
        <location line="-57"/>
        <source>Enregistrer l&apos;attestation…</source>
        <translation>Save the attestation…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Fermer</source>
        <translation>Close</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Masquer ce message</source>
        <translation>Hide this message</translation>
    </message>
    <message>
        <location line="+54"/>
        <source>Terminer l&apos;accès centre 15</source>
        <translation>End the centre 15 access</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Mettre fin à l&apos;accès d&apos;urgence maintenant (le DMP en est informé)</source>
        <translation>End the emergency access now (the DMP is told)</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Patient : {name}</source>
        <translation>Patient: {name}</translation>
    </message>
    <message>
        <location line="+72"/>
        <source>Enregistrer l&apos;attestation de bris de glace</source>
        <translation>Save the break-glass attestation</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Document PDF (*.pdf)</source>
        <translation>PDF document (*.pdf)</translation>
    </message>
    <message>
        <location line="+26"/>
        <source>Attestation non enregistrée : {error}</source>
        <translation>Attestation not saved: {error}</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Attestation enregistrée : {path}</source>
        <translation>Attestation saved: {path}</translation>
    </message>
    <message>
        <location line="+31"/>
        <source>Centre 15 (régulation)</source>
        <translation>Centre 15 (regulation)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Bris de glace</source>
        <translation>Break-glass</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>{mode} — reste {time}</source>
        <translation>{mode} — {time} left</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Accès d&apos;urgence tracé ; le patient en est informé.</source>
        <translation>Emergency access traced; the patient is notified.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{n} document(s) ouvert(s).</source>
        <translation>{n} document(s) opened.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>L&apos;accès se termine bientôt.</source>
        <translation>The access ends soon.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>{mode} en cours</source>
        <translation>{mode} in progress</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Il reste {n} minute(s) avant la fin de l&apos;accès d&apos;urgence.</source>
        <translation>{n} minute(s) left before the emergency access ends.</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>{mode} terminé à {time}</source>
        <translation>{mode} ended at {time}</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>durée {duration}</source>
        <translation>duration {duration}</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>le DMP n&apos;a pas pu être informé de la fin</source>
        <translation>the DMP could not be told of the end</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>attestation prête</source>
        <translation>attestation ready</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>attestation non produite</source>
        <translation>attestation not produced</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{mode} terminé</source>
        <translation>{mode} ended</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>arrêté par vous</source>
        <translation>stopped by you</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>durée maximale écoulée</source>
        <translation>maximum duration elapsed</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>carte retirée</source>
        <translation>card removed</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>dossier fermé</source>
        <translation>record closed</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>application quittée</source>
        <translation>application closed</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>session verrouillée</source>
        <translation>session locked</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>déconnexion</source>
        <translation>logged out</translation>
    </message>
</context>
<context>
    <name>EntourageView</name>
    <message>
        <location filename="../../console/views/entourage.py" line="+72"/>
        <source>Entourage et volontés</source>
        <translation>Relatives and wishes</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Actualiser</source>
        <translation>Refresh</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Personne de confiance</source>
        <translation>Person of trust</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Personnes à prévenir</source>
        <translation>People to contact</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Directives anticipées</source>
        <translation>Advance directives</translation>
    </message>
    <message>
        <location line="+68"/>
        <source>Chargement…</source>
        <translation>Loading…</translation>
    </message>
    <message>
        <location line="+29"/>
        <source>Non accessible à votre profession</source>
        <translation>Not accessible to your profession</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Non renseigné</source>
        <translation>Not recorded</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>portable</source>
        <translation>mobile</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>domicile</source>
        <translation>home</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>travail</source>
        <translation>work</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>pas de téléphone renseigné</source>
        <translation>no phone number recorded</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Également personne à prévenir.</source>
        <translation>Also a person to contact.</translation>
    </message>
    <message>
        <location line="+23"/>
        <source>Le patient a rédigé des directives anticipées le %1.</source>
        <translation>The patient wrote advance directives on %1.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Le patient a rédigé des directives anticipées.</source>
        <translation>The patient wrote advance directives.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>non précisé</source>
        <translation>not specified</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Lieu de conservation : %1</source>
        <translation>Kept at: %1</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le patient a indiqué ne pas avoir rédigé de directives anticipées.</source>
        <translation>The patient stated they have not written advance directives.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Renseigné par le patient le %1.</source>
        <translation>Recorded by the patient on %1.</translation>
    </message>
</context>
<context>
    <name>FileDropArea</name>
    <message>
        <location filename="../../console/views/deposit_dialog.py" line="+27"/>
        <source>Choisir des fichiers…</source>
        <translation>Choose files…</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Choisir un fichier…</source>
        <translation>Choose a file…</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Choisir les documents à déposer</source>
        <translation>Choose the documents to deposit</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Documents (*.pdf *.xml *.txt)</source>
        <translation>Documents (*.pdf *.xml *.txt)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Manifestes CSV (*.csv)</source>
        <translation>CSV manifests (*.csv)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Tous les fichiers (*)</source>
        <translation>All files (*)</translation>
    </message>
</context>
<context>
    <name>FilterBar</name>
    <message>
        <location filename="../../console/views/filter_bar.py" line="+134"/>
        <source>Filtrer : titre, type, auteur… (Ctrl+F)</source>
        <translation>Filter: title, type, author… (Ctrl+F)</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Filtrer les documents</source>
        <translation>Filter the documents</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Type</source>
        <translation>Type</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Classe</source>
        <translation>Class</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Auteur</source>
        <translation>Author</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Visibilité</source>
        <translation>Visibility</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Archivés</source>
        <translation>Archived</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+336"/>
        <source>Nouveaux seulement</source>
        <translation>New only</translation>
    </message>
    <message>
        <location line="-331"/>
        <source>Effacer tous les filtres</source>
        <translation>Clear all filters</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Filtres</source>
        <translation>Filters</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Du</source>
        <translation>From</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Au</source>
        <translation>To</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Appliquer</source>
        <translation>Apply</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Période</source>
        <translation>Period</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Nouveaux</source>
        <translation>New</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>N&apos;afficher que les documents déposés depuis votre dernière consultation</source>
        <translation>Show only the documents deposited since you last opened this record</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Favoris</source>
        <translation>Favourites</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Filtres enregistrés</source>
        <translation>Saved filters</translation>
    </message>
    <message>
        <location line="+138"/>
        <source>Enregistrer le filtre</source>
        <translation>Save the filter</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Nom du filtre :</source>
        <translation>Filter name:</translation>
    </message>
    <message>
        <location line="+45"/>
        <source>Tous les documents</source>
        <translation>All documents</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Masquer les archivés</source>
        <translation>Hide archived</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+103"/>
        <source>Archivés seulement</source>
        <translation>Archived only</translation>
    </message>
    <message>
        <location line="-90"/>
        <source>Nouveaux seulement ({count})</source>
        <translation>New only ({count})</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>(aucun)</source>
        <translation>(none)</translation>
    </message>
    <message>
        <location line="+28"/>
        <source>Enregistrer le filtre actuel…</source>
        <translation>Save the current filter…</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Supprimer</source>
        <translation>Delete</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Masqué aux professionnels</source>
        <translation>Masked from professionals</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Invisible pour le patient</source>
        <translation>Invisible to the patient</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Invisible pour les représentants légaux</source>
        <translation>Invisible to legal representatives</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Normale</source>
        <translation>Normal</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Texte : « {text} »</source>
        <translation>Text: “{text}”</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Type : {label}</source>
        <translation>Type: {label}</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Classe : {label}</source>
        <translation>Class: {label}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Auteur : {label}</source>
        <translation>Author: {label}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Depuis le {date}</source>
        <translation>From {date}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Jusqu&apos;au {date}</source>
        <translation>Until {date}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Visibilité : {label}</source>
        <translation>Visibility: {label}</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Sans les archivés</source>
        <translation>Excluding archived</translation>
    </message>
    <message>
        <location line="+17"/>
        <source>Retirer le filtre {text}</source>
        <translation>Remove the filter {text}</translation>
    </message>
</context>
<context>
    <name>ImmunizationTableModel</name>
    <message>
        <location filename="../../console/views/vaccinations.py" line="+160"/>
        <source>Date</source>
        <translation>Date</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Vaccin</source>
        <translation>Vaccine</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Code ATC</source>
        <translation>ATC code</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Lot</source>
        <translation>Batch</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Vaccinateur</source>
        <translation>Vaccinator</translation>
    </message>
</context>
<context>
    <name>LoginPage</name>
    <message>
        <location filename="../../console/views/login.py" line="+188"/>
        <source>Session verrouillée</source>
        <translation>Session locked</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Connexion par carte CPS</source>
        <translation>Sign in with a CPS card</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Insérez votre carte dans le lecteur, choisissez-la puis saisissez son code PIN.</source>
        <translation>Insert your card in the reader, choose it, then type its PIN.</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>Cartes détectées</source>
        <translation>Cards found</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>Actualiser</source>
        <translation>Refresh</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Relire les cartes présentes dans les lecteurs (F5)</source>
        <translation>Read the cards in the readers again (F5)</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Déverrouiller</source>
        <translation>Unlock</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Se connecter</source>
        <translation>Sign in</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+23"/>
        <source>Se connecter avec e-CPS</source>
        <translation>Sign in with e-CPS</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Fermer la session</source>
        <translation>Close the session</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Fermer la session verrouillée pour qu&apos;une autre personne se connecte</source>
        <translation>Close the locked session so that someone else can sign in</translation>
    </message>
    <message>
        <location line="+100"/>
        <source>La carte a été retirée du lecteur.</source>
        <translation>The card was removed from the reader.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>La session a été verrouillée après une période d&apos;inactivité.</source>
        <translation>The session was locked after a period of inactivity.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>La session a été verrouillée.</source>
        <translation>The session was locked.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>Pour reprendre, insérez la carte de %1 et saisissez son code PIN. Une autre carte fermera cette session.</source>
        <translation>To resume, insert the card of %1 and type its PIN. Another card will close this session.</translation>
    </message>
    <message>
        <location line="-10"/>
        <source>Insérez votre carte et saisissez son code PIN.</source>
        <translation>Insert your card and type its PIN.</translation>
    </message>
    <message>
        <location line="+60"/>
        <source>Recherche des cartes…</source>
        <translation>Looking for cards…</translation>
    </message>
    <message>
        <location line="-566"/>
        <location line="+584"/>
        <source>Aucune carte détectée. Insérez votre carte CPS dans le lecteur.</source>
        <translation>No card found. Insert your CPS card in the reader.</translation>
    </message>
    <message>
        <location line="-691"/>
        <source>Normal</source>
        <translation>Normal</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Code erroné déjà saisi</source>
        <translation>Wrong PIN already typed</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Dernier essai</source>
        <translation>Last try</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Carte bloquée</source>
        <translation>Card locked</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Cette carte est bloquée : son code PIN a été saisi trop de fois de façon erronée. Débloquez-la avec son code de déblocage (PUK) dans l&apos;outil CPS Gestion de l&apos;ANS (ou l&apos;outil de l&apos;émetteur de la carte), puis réessayez. Aucune tentative de connexion n&apos;a été faite.</source>
        <translation>This card is locked: a wrong PIN was typed too many times. Unlock it with its unblocking code (PUK) in the ANS&apos;s CPS Gestion tool (or the card issuer&apos;s tool), then try again. No sign-in was attempted.</translation>
    </message>
    <message>
        <location line="+55"/>
        <source>La connexion a été refusée dans l&apos;application e-CPS. Aucune session n&apos;a été ouverte.</source>
        <translation>The sign-in was refused in the e-CPS app. No session was opened.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>La demande e-CPS a expiré sans avoir été validée sur le téléphone. Recommencez pour envoyer une nouvelle demande.</source>
        <translation>The e-CPS request expired before it was approved on the phone. Start again to send a new request.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Cet identifiant national est inconnu de l&apos;annuaire du DMP. Vérifiez-le.</source>
        <translation>This national identifier is not in the DMP directory. Please check it.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Saisissez votre identifiant national (par exemple 8 suivi de votre numéro RPPS).</source>
        <translation>Enter your national identifier (for example 8 followed by your RPPS number).</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Code PIN incorrect. Il ne reste qu&apos;un essai : un nouveau code erroné bloquera la carte.</source>
        <translation>Wrong PIN. Only one try is left: another wrong PIN will lock the card.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Code PIN incorrect. Il reste au moins deux essais avant le blocage de la carte.</source>
        <translation>Wrong PIN. At least two tries are left before the card locks.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Code PIN incorrect.</source>
        <translation>Wrong PIN.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>La carte a été retirée du lecteur pendant la connexion. Réinsérez-la puis réessayez.</source>
        <translation>The card was removed from the reader while signing in. Insert it again, then try again.</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Le logiciel de lecture des cartes (Cryptolib CPS) est introuvable ou en erreur. Vérifiez son installation et le lecteur de cartes.</source>
        <translation>The card middleware (Cryptolib CPS) is missing or failing. Check its installation and the card reader.</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Erreur de la carte.</source>
        <translation>Card error.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le serveur DMP est injoignable. Vérifiez la connexion au réseau puis réessayez.</source>
        <translation>The DMP server cannot be reached. Check the network connection, then try again.</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Le serveur DMP a refusé l&apos;authentification par la carte.</source>
        <translation>The DMP server refused the card authentication.</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Le serveur DMP a refusé la connexion.</source>
        <translation>The DMP server refused the sign-in.</translation>
    </message>
    <message>
        <location line="+331"/>
        <source>Sans carte, avec l&apos;application e-CPS :</source>
        <translation>Without a card, with the e-CPS app:</translation>
    </message>
    <message>
        <location line="+7"/>
        <location line="+6"/>
        <source>Identifiant national</source>
        <translation>National identifier</translation>
    </message>
    <message>
        <location line="-4"/>
        <source>Votre identifiant national (RPPS précédé de 8); les derniers utilisés</source>
        <translation>Your national identifier (8 followed by your RPPS number); the last ones used</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Envoyer une demande de connexion à l&apos;application e-CPS de votre téléphone</source>
        <translation>Send a sign-in request to the e-CPS app on your phone</translation>
    </message>
    <message>
        <location line="+111"/>
        <source>La connexion e-CPS a pris fin (durée maximale atteinte ou renouvellement refusé) : elle ne peut pas être prolongée sans une nouvelle validation sur le téléphone.</source>
        <translation>The e-CPS sign-in ended (maximum duration reached or renewal refused): it cannot be extended without a new approval on the phone.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Le jeton de connexion a expiré et n&apos;a pas pu être renouvelé avec la carte.</source>
        <translation>The sign-in token expired and could not be renewed with the card.</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Cette session e-CPS n&apos;utilise pas de carte : pour la reprendre, %1 doit valider une nouvelle demande e-CPS sur son téléphone (bouton « Se connecter avec e-CPS »). Toute autre connexion fermera cette session.</source>
        <translation>This e-CPS session uses no card: to resume it, %1 must approve a new e-CPS request on her phone (“Sign in with e-CPS” button). Any other sign-in will close this session.</translation>
    </message>
    <message>
        <location line="+83"/>
        <source>1 carte détectée.</source>
        <translation>1 card found.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>%1 cartes détectées.</source>
        <translation>%1 cards found.</translation>
    </message>
    <message>
        <location line="+32"/>
        <source>Choisissez une carte dans la liste.</source>
        <translation>Choose a card in the list.</translation>
    </message>
    <message>
        <location line="+30"/>
        <location line="+14"/>
        <source>Connexion e-CPS annulée.</source>
        <translation>e-CPS sign-in cancelled.</translation>
    </message>
    <message>
        <location line="+31"/>
        <location line="+30"/>
        <source>Connexion annulée.</source>
        <translation>Sign-in cancelled.</translation>
    </message>
    <message>
        <location line="-21"/>
        <source>Cette carte ne peut pas être lue.</source>
        <translation>This card cannot be read.</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Lecture de la carte…</source>
        <translation>Reading the card…</translation>
    </message>
    <message>
        <location line="+42"/>
        <source>Vérification du code PIN et connexion au serveur DMP…</source>
        <translation>Checking the PIN and signing in to the DMP server…</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../console/views/main_window.py" line="+264"/>
        <location line="+737"/>
        <source>Console DMP</source>
        <translation>Console DMP</translation>
    </message>
    <message>
        <location line="-711"/>
        <source>Serveur : %1</source>
        <translation>Server: %1</translation>
    </message>
    <message>
        <location line="+186"/>
        <source>&amp;Verrouiller la session</source>
        <translation>&amp;Lock the session</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Se &amp;déconnecter</source>
        <translation>Sign &amp;out</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>&amp;Quitter</source>
        <translation>&amp;Quit</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Rechercher un patient</source>
        <translation>&amp;Find a patient</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Fermer le patient</source>
        <translation>&amp;Close the patient</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Actualiser les cartes</source>
        <translation>&amp;Refresh the cards</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Historique des accès</source>
        <translation>Access &amp;history</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Purger le cache maintenant</source>
        <translation>&amp;Purge the cache now</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Attestations de bris de glace…</source>
        <translation>Break-glass &amp;attestations…</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>&amp;Déposer un document…</source>
        <translation>&amp;Deposit a document…</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>&amp;Session</source>
        <translation>&amp;Session</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>&amp;Patient</source>
        <translation>&amp;Patient</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>&amp;Cartes</source>
        <translation>&amp;Cards</translation>
    </message>
    <message>
        <location line="+83"/>
        <source>Document déposé</source>
        <translation>Document deposited</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>Historique des accès</source>
        <translation>Access history</translation>
    </message>
    <message>
        <location line="+49"/>
        <source>%1 attestation(s) de bris de glace à enregistrer : menu Session, « Attestations de bris de glace… » (Ctrl+Maj+A).</source>
        <translation>%1 break-glass attestation(s) to save: Session menu, “Break-glass attestations…” (Ctrl+Shift+A).</translation>
    </message>
    <message>
        <location line="+23"/>
        <source>Cache purgé : %1 élément(s) supprimé(s).</source>
        <translation>Cache purged: %1 item(s) removed.</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>inconnue</source>
        <translation>unknown</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Hors ligne — dernière synchronisation : %1</source>
        <translation>Offline — last synchronised: %1</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Pas de cache hors ligne pour cette session.</source>
        <translation>No offline cache for this session.</translation>
    </message>
    <message>
        <location line="+23"/>
        <source>L&apos;accès exceptionnel a pris fin : le dossier est fermé. La prochaine ouverture demandera un nouveau motif.</source>
        <translation>The exceptional access has ended: the record is closed. The next opening will ask for a new reason.</translation>
    </message>
    <message>
        <location line="+157"/>
        <source>Vous devez prendre connaissance de l&apos;information sur la traçabilité pour accéder au DMP.</source>
        <translation>You must acknowledge the traceability notice to access the DMP.</translation>
    </message>
    <message>
        <location line="+56"/>
        <source>e-CPS</source>
        <translation>e-CPS</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Non connecté</source>
        <translation>Not signed in</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Verrouillé</source>
        <translation>Locked</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Connexion e-CPS (sans carte)</source>
        <translation>e-CPS sign-in (no card)</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Lecteur de cartes indisponible</source>
        <translation>Card reader unavailable</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Carte présente</source>
        <translation>Card present</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Carte retirée</source>
        <translation>Card removed</translation>
    </message>
    <message>
        <location line="+27"/>
        <source>Erreur inattendue (%1). Le détail est dans le journal.</source>
        <translation>Unexpected error (%1). The details are in the log.</translation>
    </message>
</context>
<context>
    <name>NoticeDialog</name>
    <message>
        <location filename="../../console/views/notice.py" line="+30"/>
        <source>Traçabilité des accès au DMP</source>
        <translation>Traceability of DMP access</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Avant d&apos;accéder au DMP</source>
        <translation>Before accessing the DMP</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Chaque accès au DMP est tracé et consultable par le patient. Vous ne pouvez consulter le DMP d&apos;un patient qu&apos;avec son autorisation, dans le cadre de sa prise en charge et dans la limite de ce que votre profession permet (matrice d&apos;habilitation). Tout accès en mode bris de glace doit être justifié et le patient en est informé.</source>
        <translation>Every access to the DMP is logged and the patient can see it. You may only open a patient&apos;s DMP with their consent, as part of their care, and within what your profession allows (the authorisation matrix). Every access in break-glass mode must be justified, and the patient is informed of it.</translation>
    </message>
    <message>
        <location line="+12"/>
        <source>J&apos;ai compris</source>
        <translation>I understand</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Se déconnecter</source>
        <translation>Sign out</translation>
    </message>
</context>
<context>
    <name>PatientSearchWidget</name>
    <message>
        <location filename="../../console/views/patient_search.py" line="+130"/>
        <source>Rechercher un patient</source>
        <translation>Find a patient</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>INS (NIR, 15 caractères clé comprise)</source>
        <translation>INS (NIR, 15 characters including the key)</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>INS du patient</source>
        <translation>Patient&apos;s INS</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Rechercher</source>
        <translation>Search</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Annuler la requête en cours (Échap)</source>
        <translation>Cancel the running request (Esc)</translation>
    </message>
    <message>
        <location line="+21"/>
        <source>Patient</source>
        <translation>Patient</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Ouvrir le dossier</source>
        <translation>Open the record</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Nom :</source>
        <translation>Name:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Né(e) le :</source>
        <translation>Born on:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Sexe :</source>
        <translation>Sex:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>INS :</source>
        <translation>INS:</translation>
    </message>
    <message>
        <location line="+81"/>
        <source>{count} caractère(s) sur 15 (clé comprise).</source>
        <translation>{count} character(s) of 15 (key included).</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Le NIR compte 15 caractères clé comprise : {count} saisis.</source>
        <translation>The NIR has 15 characters including the key: {count} typed.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce NIR n&apos;a pas la forme attendue (sexe, année, mois, département, commune, rang, clé).</source>
        <translation>This NIR does not have the expected form (sex, year, month, department, commune, rank, key).</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>La clé de contrôle est fausse : vérifiez la saisie du NIR.</source>
        <translation>The control key is wrong: check the NIR you typed.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>NIR valide.</source>
        <translation>Valid NIR.</translation>
    </message>
    <message>
        <location line="+48"/>
        <source>inconnue</source>
        <translation>unknown</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Féminin</source>
        <translation>Female</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Masculin</source>
        <translation>Male</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Autre</source>
        <translation>Other</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Inconnu</source>
        <translation>Unknown</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Recherche du patient…</source>
        <translation>Looking for the patient…</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Recherche annulée.</source>
        <translation>Search cancelled.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Aucun DMP ne correspond à cet INS.</source>
        <translation>No DMP matches this INS.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Recherche impossible : {reason}</source>
        <translation>Search failed: {reason}</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>Ouverture du dossier…</source>
        <translation>Opening the record…</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Ouverture annulée.</source>
        <translation>Opening cancelled.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Accès refusé par le DMP : {reason}</source>
        <translation>Access refused by the DMP: {reason}</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ouverture impossible : {reason}</source>
        <translation>Opening failed: {reason}</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Dossier non ouvert : le patient n&apos;a pas donné son consentement.</source>
        <translation>Record not opened: the patient did not consent.</translation>
    </message>
    <message>
        <location line="+26"/>
        <source>Ouverture du dossier avec consentement…</source>
        <translation>Opening the record with consent…</translation>
    </message>
</context>
<context>
    <name>PhoneWindow</name>
    <message>
        <location filename="../../console/views/ecps.py" line="+28"/>
        <source>Téléphone e-CPS (démonstration)</source>
        <translation>e-CPS phone (demo)</translation>
    </message>
    <message>
        <location line="+16"/>
        <source>Démonstration : cette fenêtre joue l&apos;application e-CPS du téléphone du professionnel (bac à sable).</source>
        <translation>Demo: this window plays the e-CPS app on the professional&apos;s phone (sandbox).</translation>
    </message>
    <message>
        <location line="+23"/>
        <source>Accepter</source>
        <translation>Accept</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Refuser</source>
        <translation>Refuse</translation>
    </message>
    <message>
        <location line="+37"/>
        <source>Téléphone de %1</source>
        <translation>Phone of %1</translation>
    </message>
    <message>
        <location line="+28"/>
        <source>Le bac à sable ne répond pas : %1</source>
        <translation>The sandbox does not answer: %1</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Aucune demande de connexion en attente.</source>
        <translation>No sign-in request waiting.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Demande de connexion à la Console DMP. Vérifiez que ce code est celui affiché par la console (expire dans %1) :</source>
        <translation>Sign-in request to the DMP Console. Check that this code is the one the console shows (expires in %1):</translation>
    </message>
    <message>
        <location line="+25"/>
        <source>Demande acceptée.</source>
        <translation>Request accepted.</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Demande refusée.</source>
        <translation>Request refused.</translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <location filename="../../console/views/login.py" line="-845"/>
        <source>Attention : un code erroné a déjà été saisi. La carte se bloque après trois codes erronés.</source>
        <translation>Warning: a wrong PIN was already typed. The card locks after three wrong PINs.</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>DERNIER ESSAI : un nouveau code erroné bloquera la carte. Vérifiez votre code avant de le saisir.</source>
        <translation>LAST TRY: another wrong PIN will lock the card. Check your PIN before typing it.</translation>
    </message>
    <message>
        <location line="+228"/>
        <source>Code PIN de la carte</source>
        <translation>Card PIN</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Carte de %1 (%2)</source>
        <translation>Card of %1 (%2)</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Carte : %1</source>
        <translation>Card: %1</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Code PIN (4 chiffres)</source>
        <translation>PIN (4 digits)</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Je confirme vouloir utiliser mon dernier essai avant blocage de la carte</source>
        <translation>I confirm I want to use my last try before the card locks</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Tenter le dernier essai</source>
        <translation>Use the last try</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Valider</source>
        <translation>OK</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Fermer</source>
        <translation>Close</translation>
    </message>
    <message>
        <location line="+0"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
</context>
<context>
    <name>PreviewPane</name>
    <message>
        <location filename="../../console/views/preview.py" line="+540"/>
        <source>Choisissez un document dans la liste puis appuyez sur Entrée.</source>
        <translation>Choose a document in the list, then press Enter.</translation>
    </message>
    <message>
        <location line="+8"/>
        <location line="+129"/>
        <source>Chargement du document…</source>
        <translation>Loading the document…</translation>
    </message>
    <message>
        <location line="-121"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+142"/>
        <source>Chargement annulé.</source>
        <translation>Loading cancelled.</translation>
    </message>
    <message>
        <location line="+279"/>
        <source>Impossible d&apos;obtenir le document : {reason}</source>
        <translation>Cannot get the document: {reason}</translation>
    </message>
    <message>
        <location line="+26"/>
        <source>{author} · {structure}</source>
        <translation>{author} · {structure}</translation>
    </message>
    <message>
        <location line="+24"/>
        <source>Aperçu non disponible pour ce format ({kind}).</source>
        <translation>No preview for this format ({kind}).</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Ce document CDA est illisible (XML invalide).</source>
        <translation>This CDA document is unreadable (invalid XML).</translation>
    </message>
    <message>
        <location line="+40"/>
        <source>Date : {date}</source>
        <translation>Date: {date}</translation>
    </message>
    <message>
        <location line="-7"/>
        <source>Patient : {name}</source>
        <translation>Patient: {name}</translation>
    </message>
    <message>
        <location line="-562"/>
        <location line="+1"/>
        <source>Rechercher dans le document</source>
        <translation>Find in the document</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Résultat précédent (Maj+F3)</source>
        <translation>Previous match (Shift+F3)</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Résultat suivant (F3)</source>
        <translation>Next match (F3)</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Enregistrer une copie…</source>
        <translation>Save a copy…</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Imprimer…</source>
        <translation>Print…</translation>
    </message>
    <message>
        <location line="+340"/>
        <source>Aucun résultat</source>
        <translation>No match</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{count} résultat(s)</source>
        <translation>{count} match(es)</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>{index} sur {count}</source>
        <translation>{index} of {count}</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>document</source>
        <translation>document</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Enregistrer une copie du document</source>
        <translation>Save a copy of the document</translation>
    </message>
    <message>
        <location line="+19"/>
        <source>Copie impossible : {reason}</source>
        <translation>Copy failed: {reason}</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Copie enregistrée : {path}</source>
        <translation>Copy saved: {path}</translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Document</source>
        <translation>Document</translation>
    </message>
    <message>
        <location line="+22"/>
        <source>Document envoyé à l&apos;impression.</source>
        <translation>Document sent to the printer.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Impression impossible.</source>
        <translation>Printing failed.</translation>
    </message>
    <message>
        <location line="+57"/>
        <source>Vérification du PDF…</source>
        <translation>Checking the PDF…</translation>
    </message>
    <message>
        <location line="+53"/>
        <source>Document CDA</source>
        <translation>CDA document</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Auteur : {name}</source>
        <translation>Author: {name}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Structure : {name}</source>
        <translation>Organisation: {name}</translation>
    </message>
    <message>
        <location line="+62"/>
        <source>Cette image est illisible ou endommagée.</source>
        <translation>This image is unreadable or damaged.</translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Ce PDF est chiffré ou protégé par un mot de passe : l&apos;aperçu est impossible.</source>
        <translation>This PDF is encrypted or password-protected: no preview is possible.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Ce PDF est trop volumineux pour l&apos;aperçu ({size} Mo, au plus {limit} Mo). Enregistrez une copie pour l&apos;ouvrir avec un autre lecteur.</source>
        <translation>This PDF is too large to preview ({size} MB, {limit} MB at most). Save a copy to open it in another viewer.</translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Ce PDF a trop de pages pour l&apos;aperçu ({pages}, au plus {limit}). Enregistrez une copie pour l&apos;ouvrir avec un autre lecteur.</source>
        <translation>This PDF has too many pages to preview ({pages}, {limit} at most). Save a copy to open it in another viewer.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce PDF met trop longtemps à s&apos;ouvrir (plus de {seconds} s) : l&apos;aperçu a été interrompu. Il est peut-être endommagé.</source>
        <translation>This PDF takes too long to open (over {seconds} s): the preview was stopped. It may be damaged.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce PDF demande trop de mémoire pour l&apos;aperçu : il a été écarté. Il est peut-être endommagé.</source>
        <translation>This PDF needs too much memory to preview: it was not loaded. It may be damaged.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce PDF a fait échouer le lecteur PDF : il est probablement endommagé.</source>
        <translation>This PDF crashed the PDF viewer: it is probably damaged.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le contrôle des PDF n&apos;a pas pu démarrer : l&apos;aperçu est impossible.</source>
        <translation>The PDF check could not start: no preview is possible.</translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+13"/>
        <source>Ce PDF est illisible ou endommagé.</source>
        <translation>This PDF is unreadable or damaged.</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>/ {count}</source>
        <translation>/ {count}</translation>
    </message>
    <message>
        <location line="+43"/>
        <source>Page précédente</source>
        <translation>Previous page</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Page</source>
        <translation>Page</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Page suivante</source>
        <translation>Next page</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Zoom arrière</source>
        <translation>Zoom out</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Zoom avant</source>
        <translation>Zoom in</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Ajuster à la largeur</source>
        <translation>Fit to width</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Page entière</source>
        <translation>Whole page</translation>
    </message>
</context>
<context>
    <name>RefusalBox</name>
    <message>
        <location filename="../../console/views/consent.py" line="+73"/>
        <source>Le patient s&apos;est opposé à l&apos;accès à son DMP en bris de glace</source>
        <translation>The patient opposed break-glass access to their DMP</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le patient s&apos;est opposé à l&apos;accès à son DMP par le centre de régulation</source>
        <translation>The patient opposed access to their DMP by the regulation centre</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le patient a bloqué votre accès à son DMP</source>
        <translation>The patient blocked your access to their DMP</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Le mode centre 15 est réservé aux médecins régulateurs</source>
        <translation>The centre 15 mode is reserved for regulating doctors</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Bris de glace refusé : motif ou justification manquant</source>
        <translation>Break-glass refused: reason or justification missing</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Un secrétariat médical ne consulte pas le DMP</source>
        <translation>A medical secretariat does not consult the DMP</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Accès refusé par le DMP</source>
        <translation>Access refused by the DMP</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Aucun accès n&apos;a été ouvert et rien n&apos;a été consulté. L&apos;opposition du patient s&apos;impose, même en urgence : prenez-le en charge sans son DMP (proches, médecin traitant, documents qu&apos;il porte sur lui).</source>
        <translation>No access was opened and nothing was consulted. The patient&apos;s opposition prevails, even in an emergency: care for them without their DMP (relatives, regular doctor, documents they carry).</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Aucun accès n&apos;a été ouvert et rien n&apos;a été consulté. Poursuivez la régulation sans le DMP.</source>
        <translation>No access was opened and nothing was consulted. Continue the regulation without the DMP.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce choix du patient vaut dans tous les modes d&apos;accès, bris de glace compris. Rien n&apos;a été consulté.</source>
        <translation>This choice of the patient applies in every access mode, break-glass included. Nothing was consulted.</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Choisissez un autre mode d&apos;accès.</source>
        <translation>Choose another access mode.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Choisissez un motif et écrivez une justification d&apos;au moins {n} caractères.</source>
        <translation>Choose a reason and write a justification of at least {n} characters.</translation>
    </message>
</context>
<context>
    <name>VaccinationForm</name>
    <message>
        <location filename="../../console/views/vaccinations.py" line="+90"/>
        <source>Ajouter une vaccination</source>
        <translation>Add a vaccination</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Rechercher : nom, code ATC ou marque</source>
        <translation>Search: name, ATC code or brand</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Rechercher un vaccin</source>
        <translation>Search for a vaccine</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Vaccin</source>
        <translation>Vaccine</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Date de la vaccination</source>
        <translation>Vaccination date</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Numéro de lot inscrit sur le conditionnement</source>
        <translation>Batch number printed on the packaging</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Numéro de lot</source>
        <translation>Batch number</translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Enregistrer la vaccination</source>
        <translation>Record the vaccination</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Vaccin :</source>
        <translation>Vaccine:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Date :</source>
        <translation>Date:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Lot :</source>
        <translation>Batch:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Vaccinateur :</source>
        <translation>Vaccinator:</translation>
    </message>
    <message>
        <location line="+42"/>
        <source>%1 (vous)</source>
        <translation>%1 (you)</translation>
    </message>
    <message>
        <location line="+19"/>
        <source>Aucun vaccin ne correspond à la recherche</source>
        <translation>No vaccine matches the search</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>— Choisir un vaccin —</source>
        <translation>— Choose a vaccine —</translation>
    </message>
    <message>
        <location line="+51"/>
        <source>Choisissez le vaccin dans la liste.</source>
        <translation>Choose the vaccine from the list.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Ce vaccin n&apos;est pas dans la liste des vaccins codés.</source>
        <translation>This vaccine is not in the list of coded vaccines.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Indiquez la date de la vaccination.</source>
        <translation>Enter the vaccination date.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>La date de vaccination ne peut pas être dans le futur.</source>
        <translation>The vaccination date cannot be in the future.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>La date de vaccination est antérieure à la naissance du patient.</source>
        <translation>The vaccination date is before the patient&apos;s birth.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Le numéro de lot est obligatoire.</source>
        <translation>The batch number is required.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Le numéro de lot est trop long (40 caractères au plus).</source>
        <translation>The batch number is too long (40 characters at most).</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le vaccinateur enregistré est le professionnel connecté : reconnectez-vous.</source>
        <translation>The recorded vaccinator is the logged-in professional: log in again.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Seul un professionnel de santé peut enregistrer une vaccination.</source>
        <translation>Only a health professional can record a vaccination.</translation>
    </message>
    <message>
        <location line="+31"/>
        <source>Rien n&apos;a été enregistré : corrigez la saisie.</source>
        <translation>Nothing was recorded: correct the entry.</translation>
    </message>
</context>
<context>
    <name>VaccinationsTab</name>
    <message>
        <location line="+55"/>
        <source>Vaccinations</source>
        <translation>Vaccinations</translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Ajouter une vaccination</source>
        <translation>Add a vaccination</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Actualiser</source>
        <translation>Refresh</translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+51"/>
        <source>Documents d&apos;historique vaccinal</source>
        <translation>Vaccination history documents</translation>
    </message>
    <message>
        <location line="-48"/>
        <source>Lister les documents « Historique de vaccination » du patient, sans limite de date</source>
        <translation>List the patient&apos;s “Vaccination history” documents, without a date limit</translation>
    </message>
    <message>
        <location line="+27"/>
        <source>Vaccinations du patient</source>
        <translation>The patient&apos;s vaccinations</translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Documents « Historique de vaccination » (sans limite de date)</source>
        <translation>“Vaccination history” documents (no date limit)</translation>
    </message>
    <message>
        <location line="+135"/>
        <source>La matrice d&apos;habilitation ne permet pas à votre profession de consulter les vaccinations.</source>
        <translation>The authorisation matrix does not allow your profession to consult vaccinations.</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Chargement des vaccinations…</source>
        <translation>Loading the vaccinations…</translation>
    </message>
    <message>
        <location line="+17"/>
        <source>aucune vaccination enregistrée</source>
        <translation>no vaccination recorded</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>1 vaccination</source>
        <translation>1 vaccination</translation>
    </message>
    <message numerus="yes">
        <location line="+2"/>
        <source>%n vaccinations</source>
        <translation>
            <numerusform>%n vaccination</numerusform>
            <numerusform>%n vaccinations</numerusform>
        </translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Enregistrement de la vaccination…</source>
        <translation>Recording the vaccination…</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Rien n&apos;a été enregistré : %1</source>
        <translation>Nothing was recorded: %1</translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Vaccination enregistrée dans le DMP : %1 du %2.</source>
        <translation>Vaccination recorded in the DMP: %1 on %2.</translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Recherche des documents d&apos;historique vaccinal…</source>
        <translation>Searching the vaccination history documents…</translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Aucun document d&apos;historique de vaccination dans le DMP.</source>
        <translation>No vaccination history document in the DMP.</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>1 document, toutes dates confondues.</source>
        <translation>1 document, all dates.</translation>
    </message>
    <message numerus="yes">
        <location line="+3"/>
        <source>%n documents, toutes dates confondues.</source>
        <translation>
            <numerusform>%n document, all dates.</numerusform>
            <numerusform>%n documents, all dates.</numerusform>
        </translation>
    </message>
</context>
</TS>
