<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="fr_FR">
<context>
    <name>AccessModeDialog</name>
    <message>
        <location filename="../../console/views/consent.py" line="+93"/>
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
        <source>— Choisissez un motif —</source>
        <translation>— Choose a reason —</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Décrivez la situation qui justifie l&apos;accès (au moins {n} caractères).</source>
        <translation>Describe the situation that justifies the access (at least {n} characters).</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Le patient sera informé de cet accès en bris de glace. L&apos;accès est limité dans le temps, chaque consultation est tracée et votre motif est conservé.</source>
        <translation>The patient will be informed of this break-glass access. The access is time-limited, every view is logged and your reason is kept.</translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Motif :</source>
        <translation>Reason:</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Justification :</source>
        <translation>Justification:</translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Réservé aux médecins régulateurs d&apos;un centre 15 : le DMP refuse cet accès aux autres professionnels.</source>
        <translation>Reserved for the regulating doctors of a Centre 15: the DMP refuses this access to other professionals.</translation>
    </message>
    <message>
        <location line="+9"/>
        <location line="+74"/>
        <source>Ouvrir le dossier</source>
        <translation>Open the record</translation>
    </message>
    <message>
        <location line="-73"/>
        <source>Annuler</source>
        <translation>Cancel</translation>
    </message>
    <message>
        <location line="+60"/>
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
    <name>DocumentTableModel</name>
    <message>
        <location filename="../../console/views/document_model.py" line="+209"/>
        <source>Date de l&apos;acte</source>
        <translation>Date of the act</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Déposé le</source>
        <translation type="unfinished"></translation>
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
        <translation type="unfinished">Profession</translation>
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
        <location line="+41"/>
        <source>Masqué</source>
        <translation>Hidden</translation>
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
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>DossierView</name>
    <message>
        <location filename="../../console/views/dossier_view.py" line="+287"/>
        <source>Fermer le dossier</source>
        <translation>Close the record</translation>
    </message>
    <message>
        <location line="+31"/>
        <location line="+389"/>
        <location line="+10"/>
        <source>2 dernières années</source>
        <translation>Last 2 years</translation>
    </message>
    <message>
        <location line="-393"/>
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
        <location line="+32"/>
        <source>Documents du patient</source>
        <translation>Patient&apos;s documents</translation>
    </message>
    <message>
        <location line="+335"/>
        <source>Règle du DMP : à la première ouverture, seuls les documents des deux dernières années sont listés (depuis le {start}).</source>
        <translation>DMP rule: at the first opening, only the documents of the last two years are listed (since {start}).</translation>
    </message>
    <message>
        <location line="-43"/>
        <source>Date de naissance inconnue</source>
        <translation>Date of birth unknown</translation>
    </message>
    <message>
        <location line="-12"/>
        <source>Disposition par défaut</source>
        <translation type="unfinished"></translation>
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
        <location line="+9"/>
        <source>Accès d&apos;urgence jusqu&apos;à {time} : le patient en sera informé, chaque consultation est tracée.</source>
        <translation>Emergency access until {time}: the patient will be informed, every view is logged.</translation>
    </message>
    <message>
        <location line="+9"/>
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
        <location line="+22"/>
        <source>Règle du DMP : les documents connus depuis votre première consultation couvrent les deux dernières années ; seuls les dépôts depuis votre dernière consultation ({since}) ont été recherchés.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+58"/>
        <source>Liste incomplète : {reason}</source>
        <translation>Incomplete list: {reason}</translation>
    </message>
    <message>
        <location line="+40"/>
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
        <source>{text} (sur {total} annoncés)</source>
        <translation>{text} (of {total} announced)</translation>
    </message>
    <message>
        <location line="+13"/>
        <source>Rien de nouveau depuis le {since}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>1 nouveau document depuis le {since}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{count} nouveaux documents depuis le {since}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>EcpsWaitDialog</name>
    <message>
        <location filename="../../console/views/ecps.py" line="+79"/>
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
        <location line="+35"/>
        <source>Demande envoyée à l&apos;application e-CPS de %1.</source>
        <translation>Request sent to the e-CPS app of %1.</translation>
    </message>
    <message>
        <location line="+21"/>
        <source>La demande expire dans %1.</source>
        <translation>The request expires in %1.</translation>
    </message>
</context>
<context>
    <name>FilterBar</name>
    <message>
        <location filename="../../console/views/filter_bar.py" line="+123"/>
        <source>Filtrer : titre, type, auteur… (Ctrl+F)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Filtrer les documents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Type</source>
        <translation type="unfinished">Type</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Classe</source>
        <translation type="unfinished">Class</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Auteur</source>
        <translation type="unfinished">Author</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Visibilité</source>
        <translation type="unfinished">Visibility</translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Archivés</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <location line="+306"/>
        <source>Nouveaux seulement</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="-301"/>
        <source>Effacer tous les filtres</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Filtres</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Du</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Au</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Appliquer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+11"/>
        <source>Période</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Nouveaux</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>N&apos;afficher que les documents déposés depuis votre dernière consultation</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Favoris</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Filtres enregistrés</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+108"/>
        <source>Enregistrer le filtre</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Nom du filtre :</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+45"/>
        <source>Tous les documents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+1"/>
        <source>Masquer les archivés</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+1"/>
        <location line="+103"/>
        <source>Archivés seulement</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="-90"/>
        <source>Nouveaux seulement ({count})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+13"/>
        <source>(aucun)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+28"/>
        <source>Enregistrer le filtre actuel…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Supprimer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+10"/>
        <source>Masqué aux professionnels</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Invisible pour le patient</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Invisible pour les représentants légaux</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Normale</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+8"/>
        <source>Texte : « {text} »</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+4"/>
        <source>Type : {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Classe : {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Auteur : {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Depuis le {date}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Jusqu&apos;au {date}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Visibilité : {label}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+9"/>
        <source>Sans les archivés</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+17"/>
        <source>Retirer le filtre {text}</source>
        <translation type="unfinished"></translation>
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
        <location line="+14"/>
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
        <location line="+25"/>
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
        <location line="+96"/>
        <source>La carte a été retirée du lecteur.</source>
        <translation>The card was removed from the reader.</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>La session a été verrouillée après une période d&apos;inactivité.</source>
        <translation>The session was locked after a period of inactivity.</translation>
    </message>
    <message>
        <location line="+11"/>
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
        <location line="-561"/>
        <location line="+579"/>
        <source>Aucune carte détectée. Insérez votre carte CPS dans le lecteur.</source>
        <translation>No card found. Insert your CPS card in the reader.</translation>
    </message>
    <message>
        <location line="-686"/>
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
        <location line="+329"/>
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
        <location line="+15"/>
        <source>Envoyer une demande de connexion à l&apos;application e-CPS de votre téléphone</source>
        <translation>Send a sign-in request to the e-CPS app on your phone</translation>
    </message>
    <message>
        <location line="+107"/>
        <source>La connexion e-CPS a atteint sa durée maximale : elle ne peut pas être prolongée sans une nouvelle validation sur le téléphone.</source>
        <translation>The e-CPS sign-in reached its maximum duration: it cannot be extended without a new approval on the phone.</translation>
    </message>
    <message>
        <location line="+5"/>
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
        <location line="+18"/>
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
        <location filename="../../console/views/main_window.py" line="+212"/>
        <location line="+384"/>
        <source>Console DMP</source>
        <translation>Console DMP</translation>
    </message>
    <message>
        <location line="-367"/>
        <source>Serveur : %1</source>
        <translation>Server: %1</translation>
    </message>
    <message>
        <location line="+67"/>
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
        <location line="+4"/>
        <source>&amp;Session</source>
        <translation>&amp;Session</translation>
    </message>
    <message>
        <location line="+5"/>
        <source>&amp;Patient</source>
        <translation>&amp;Patient</translation>
    </message>
    <message>
        <location line="+3"/>
        <source>&amp;Cartes</source>
        <translation>&amp;Cards</translation>
    </message>
    <message>
        <location line="+190"/>
        <source>Vous devez prendre connaissance de l&apos;information sur la traçabilité pour accéder au DMP.</source>
        <translation>You must acknowledge the traceability notice to access the DMP.</translation>
    </message>
    <message>
        <location line="+50"/>
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
        <location line="+16"/>
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
        <location filename="../../console/views/patient_search.py" line="+115"/>
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
        <location line="+20"/>
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
        <location line="+79"/>
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
        <location line="+47"/>
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
        <location line="+4"/>
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
        <location line="+15"/>
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
        <location line="+4"/>
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
        <location filename="../../console/views/login.py" line="-826"/>
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
        <location line="+280"/>
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
        <location line="-563"/>
        <location line="+1"/>
        <source>Rechercher dans le document</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Résultat précédent (Maj+F3)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Résultat suivant (F3)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Enregistrer une copie…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Imprimer…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+340"/>
        <source>Aucun résultat</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>{count} résultat(s)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+3"/>
        <source>{index} sur {count}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+22"/>
        <source>document</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Enregistrer une copie du document</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+20"/>
        <source>Copie impossible : {reason}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Copie enregistrée : {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+18"/>
        <source>Document</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+22"/>
        <source>Document envoyé à l&apos;impression.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Impression impossible.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+57"/>
        <source>Vérification du PDF…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+53"/>
        <source>Document CDA</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+6"/>
        <source>Auteur : {name}</source>
        <translation>Author: {name}</translation>
    </message>
    <message>
        <location line="+2"/>
        <source>Structure : {name}</source>
        <translation type="unfinished"></translation>
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
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+7"/>
        <source>Ce PDF a trop de pages pour l&apos;aperçu ({pages}, au plus {limit}). Enregistrez une copie pour l&apos;ouvrir avec un autre lecteur.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce PDF met trop longtemps à s&apos;ouvrir (plus de {seconds} s) : l&apos;aperçu a été interrompu. Il est peut-être endommagé.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce PDF demande trop de mémoire pour l&apos;aperçu : il a été écarté. Il est peut-être endommagé.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+5"/>
        <source>Ce PDF a fait échouer le lecteur PDF : il est probablement endommagé.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location line="+3"/>
        <source>Le contrôle des PDF n&apos;a pas pu démarrer : l&apos;aperçu est impossible.</source>
        <translation type="unfinished"></translation>
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
        <location line="+35"/>
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
</TS>
